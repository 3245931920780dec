import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alertmanagerCommand, BINARIES, prometheusCommand } from '../../runtime/native.js';

/**
 * A server process that can be stopped (SIGTERM or SIGKILL) and started again on the same port
 * and the same data directory, unlike startService(), whose stop() also removes its directory.
 * For tests of what survives a restart. The directory belongs to the caller.
 */

export interface ProcessSpec {
  /** For messages. */
  readonly name: string;
  /** argv[0] first. */
  readonly argv: readonly string[];
  /** Full URL answering 200 once the process serves. */
  readonly readyUrl: string;
  readonly readyTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class RestartableProcess {
  private child: ChildProcess | undefined;
  private exit: Promise<Exit> | undefined;
  private log = '';
  private readonly killOnExit = () => this.child?.kill('SIGKILL');
  /** How many times the process has been started. */
  starts = 0;

  constructor(private readonly spec: ProcessSpec) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Everything written to stdout and stderr, every run included. */
  logs(): string {
    return this.log;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.spec.name} is already running`);
    const [command, ...args] = this.spec.argv;
    if (command === undefined) throw new Error(`${this.spec.name}: empty argv`);
    this.starts++;
    this.log += `--- start ${this.starts}\n`;
    const child = spawn(command, args, { env: this.spec.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    process.once('exit', this.killOnExit);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.log += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.log += chunk));
    const deadline = Date.now() + (this.spec.readyTimeoutMs ?? 30_000);
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.spec.name} exited before it was ready:\n${this.log}`);
      try {
        const response = await fetch(this.spec.readyUrl, { signal: AbortSignal.timeout(1000) });
        await response.arrayBuffer();
        if (response.ok) return;
      } catch {
        // Not listening yet.
      }
      await sleep(100);
    }
    await this.stop('SIGKILL');
    throw new Error(`${this.spec.name} not ready at ${this.spec.readyUrl}:\n${this.log}`);
  }

  /** Sends `signal` and waits for the exit; a SIGTERM that is ignored for 15 s becomes a SIGKILL. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<Exit | undefined> {
    const child = this.child;
    const exit = this.exit;
    if (!child || !exit) return undefined;
    process.removeListener('exit', this.killOnExit);
    if (this.running) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    }
    return exit;
  }
}

/** Prometheus on `port` with its configuration and TSDB in `dir` (flags as the native stack's). */
export async function restartablePrometheus(dir: string, port: number, config: string): Promise<RestartableProcess> {
  const configFile = join(dir, 'prometheus.yml');
  await mkdir(dir, { recursive: true });
  await writeFile(configFile, config);
  const command = prometheusCommand({ configFile, dataDir: join(dir, 'data'), host: '127.0.0.1', port, logLevel: 'warn' });
  return new RestartableProcess({
    name: 'prometheus',
    argv: [BINARIES.prometheus, ...command.argv.slice(1)],
    readyUrl: `http://127.0.0.1:${port}${command.readyPath}`,
  });
}

/** Alertmanager on `port` with its configuration and --storage.path in `dir`, clustering off. */
export async function restartableAlertmanager(dir: string, port: number, config: string): Promise<RestartableProcess> {
  const configFile = join(dir, 'alertmanager.yml');
  await mkdir(dir, { recursive: true });
  await writeFile(configFile, config);
  const command = alertmanagerCommand({ configFile, storageDir: join(dir, 'data'), host: '127.0.0.1', port, logLevel: 'warn' });
  return new RestartableProcess({
    name: 'alertmanager',
    argv: [BINARIES.alertmanager, ...command.argv.slice(1)],
    readyUrl: `http://127.0.0.1:${port}${command.readyPath}`,
  });
}
