/** Server processes under test: started pinned to one core, measured through /proc, stopped at the end. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Clock ticks per second of /proc/<pid>/stat (sysconf(_SC_CLK_TCK)); 100 on every Linux we target. */
export const CLK_TCK = 100;

import { freePort } from '@obsnest/testkit';

export { freePort };

export interface StartOptions {
  readonly name: string;
  /** Script run by node. */
  readonly entry: string;
  readonly env: Record<string, string>;
  /** The core the server is pinned to (taskset -c). */
  readonly cpu: string;
  readonly nodeFlags?: readonly string[];
  /** How readiness is signalled: an IPC `{ ready: true }` message (bench servers) or an HTTP URL that answers 200 (the API). */
  readonly readyUrl?: string;
  readonly startTimeoutMs?: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class ServerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exited = false;
  /** How it ended: `exit code N` or `signal SIGx`. */
  private ending = '';
  private stderr = '';
  readonly exitedPromise: Promise<number | null>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.exitedPromise = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exited = true;
        this.ending = signal === null ? `exit code ${code}` : `signal ${signal}`;
        for (const p of this.pending.values()) p.reject(new Error(`${name} exited (${code}) ${this.stderr.slice(-2000)}`));
        this.pending.clear();
        resolve(code);
      }),
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
    });
    child.on('message', (message: { id?: number; ok?: boolean; result?: unknown; error?: string }) => {
      if (message.id === undefined) return;
      const p = this.pending.get(message.id);
      if (!p) return;
      this.pending.delete(message.id);
      if (message.ok) p.resolve(message.result);
      else p.reject(new Error(`${this.name}: ${message.error}`));
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get hasExited(): boolean {
    return this.exited;
  }

  get errorOutput(): string {
    return this.stderr;
  }

  /** `exit code N` or `signal SIGx` once it has exited, else ''. */
  get exitStatus(): string {
    return this.ending;
  }

  /** Starts `taskset -c <cpu> node <flags> <entry>`; taskset execs node, so the pid is the server's. */
  static async start(options: StartOptions): Promise<ServerProcess> {
    const port = Number(options.env.PORT ?? (await freePort()));
    // Detached: a session of its own. Servers are paused (SIGSTOP) between quanta, and when a process
    // group with a stopped member becomes orphaned (the shell that started the bench in the background
    // exits) the kernel sends it SIGHUP, which ends a Node process: rounds failed with a server "gone
    // (signal SIGHUP)". The bench stops its servers itself, on SIGINT and SIGTERM too.
    const child = spawn('taskset', ['-c', options.cpu, process.execPath, ...(options.nodeFlags ?? []), options.entry], {
      env: { ...process.env, ...options.env, PORT: String(port) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      detached: true,
    });
    const server = new ServerProcess(options.name, child, port);
    const timeoutMs = options.startTimeoutMs ?? 60_000;
    const ready = options.readyUrl
      ? waitForUrl(`http://127.0.0.1:${port}${options.readyUrl}`, timeoutMs, () => server.exited)
      : new Promise<void>((resolve) => child.on('message', (m: { ready?: boolean }) => m.ready && resolve()));
    const failed = server.exitedPromise.then((code) => {
      throw new Error(`${options.name} exited with ${code} before it was ready:\n${server.stderr.slice(-3000)}`);
    });
    const gaveUp = new AbortController();
    const timeout = sleep(timeoutMs, undefined, { signal: gaveUp.signal }).then(() => {
      throw new Error(`${options.name} not ready after ${timeoutMs} ms:\n${server.stderr.slice(-3000)}`);
    });
    try {
      await Promise.race([ready, failed, timeout]);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    } finally {
      gaveUp.abort();
    }
    failed.catch(() => undefined);
    timeout.catch(() => undefined);
    return server;
  }

  /** Sends a command to the probe (probe.ts) inside the server. */
  call<T>(cmd: string, args?: unknown, timeoutMs = 60_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: probe command ${cmd} timed out`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, cmd, args });
    });
  }

  /** user + system CPU time of the whole process (every thread, GC included), in seconds. */
  cpuSeconds(): number {
    if (this.exited) return Number.NaN;
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after it are counted from its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  }

  /**
   * CPU time of every thread of the process, in nanoseconds, from the scheduler's own accounting
   * (`/proc/<pid>/task/<tid>/schedstat`): exact, where `/proc/<pid>/stat` counts 10 ms ticks.
   * Threads never exit in a Node server under load (V8's and libuv's pools are fixed), so the sum
   * over the living ones is the process's.
   */
  cpuNanoseconds(): number {
    if (this.exited) return Number.NaN;
    let total = 0;
    for (const tid of readdirSync(`/proc/${this.pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${this.pid}/task/${tid}/schedstat`, 'utf8').split(' ', 1)[0]);
      } catch {
        // the thread ended between the listing and the read
      }
    }
    return total;
  }

  /** Stops the whole process (SIGSTOP): it uses no CPU and answers nothing until `resume`. */
  pause(): void {
    if (!this.exited) this.child.kill('SIGSTOP');
  }

  resume(): void {
    if (!this.exited) this.child.kill('SIGCONT');
  }

  /** Resident set size in bytes. */
  rssBytes(): number {
    let status: string;
    try {
      status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    } catch {
      return Number.NaN; // gone
    }
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return Number(kb ?? 0) * 1024;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    // A paused process would not handle SIGTERM until continued.
    this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
    const patience = new AbortController();
    const done = await Promise.race([
      this.exitedPromise.then(() => true),
      sleep(10_000, undefined, { signal: patience.signal }).then(
        () => false,
        () => true,
      ),
    ]);
    patience.abort();
    if (!done) {
      this.child.kill('SIGKILL');
      await this.exitedPromise;
    }
  }
}

async function waitForUrl(url: string, timeoutMs: number, gaveUp: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !gaveUp()) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  if (!gaveUp()) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}
