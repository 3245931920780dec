import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway server process for tests (Prometheus, Alertmanager, the alert sink): a free port on
 * 127.0.0.1, its own temporary directory, started and waited for until ready, and stopped with
 * SIGTERM (SIGKILL if it lingers) with the directory removed, also when the test process exits
 * early.
 */

export interface ServiceSpec {
  /** For messages. */
  readonly name: string;
  readonly command: string;
  /** Arguments, given the port to listen on and the service's temporary directory. */
  readonly args: (port: number, dir: string) => readonly string[];
  /** Prepares files in the temporary directory before the start (configuration…), given the port. */
  readonly prepare?: (dir: string, port: number) => Promise<void>;
  /** Path answering 200 once the service is ready, e.g. `/-/ready`. */
  readonly readyPath: string;
  readonly readyTimeoutMs?: number;
  /** The child's environment, given its port; default: this process's environment. */
  readonly env?: (port: number) => NodeJS.ProcessEnv;
}

export interface RunningService {
  readonly url: string;
  readonly port: number;
  /** The temporary directory, removed by stop(). */
  readonly dir: string;
  /** Everything the process wrote to stdout and stderr so far. */
  logs(): string;
  stop(): Promise<void>;
}

import { freePort } from '@obsnest/testkit';

export { freePort };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function terminate(child: ChildProcess): Promise<void> {
  if (exited(child)) return;
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killTimer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(killTimer);
}

async function waitUntilReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited(child)) throw new Error(`exited with code ${child.exitCode ?? child.signalCode} before being ready`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  throw new Error(`not ready at ${url} after ${timeoutMs} ms`);
}

async function startOnce(spec: ServiceSpec): Promise<RunningService> {
  const dir = await mkdtemp(join(tmpdir(), `obsnest-${spec.name}-`));
  let child: ChildProcess | undefined;
  let logs = '';
  const killOnExit = () => child?.kill('SIGKILL');
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child) await terminate(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    await spec.prepare?.(dir, port);
    child = spawn(spec.command, spec.args(port, dir), {
      cwd: dir,
      env: spec.env?.(port) ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    process.once('exit', killOnExit);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
    const url = `http://127.0.0.1:${port}`;
    await waitUntilReady(`${url}${spec.readyPath}`, child, spec.readyTimeoutMs ?? 20_000);
    return { url, port, dir, logs: () => logs, stop };
  } catch (error) {
    await stop();
    throw new Error(`${spec.name} did not start: ${(error as Error).message}\n${logs}`, { cause: error });
  }
}

/**
 * Starts the service; retries on another port if the one picked was taken in between (another
 * test process may grab it between freePort() and the bind).
 */
export async function startService(spec: ServiceSpec, attempts = 3): Promise<RunningService> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(spec);
    } catch (error) {
      const portTaken = /address already in use/i.test((error as Error).message);
      if (!portTaken || attempt >= attempts) throw error;
    }
  }
}

/**
 * Runs every clean-up step in order, each even when one before it failed, then throws the first
 * failure: one broken step must not leave the processes of the next ones running.
 */
export async function teardown(steps: readonly (() => unknown)[]): Promise<void> {
  const errors: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw errors[0];
}
