import { type ChildProcess, spawn } from 'node:child_process';
import { freePort, tempDir, waitFor } from './services.js';

export interface ThrowawayRedis {
  readonly port: number;
  readonly url: string;
  /** Kills the server (SIGKILL by default: a crash, not a polite shutdown) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port, as a restarted service would come back. */
  restart(): Promise<void>;
  /** Kills it if running and removes its directory. */
  close(): Promise<void>;
}

/**
 * A private redis-server on a free loopback port, for tests that take Redis away. The machine's
 * shared Redis is never touched. No persistence: a restart comes back empty, as a cache-only Redis
 * would after a crash.
 */
export async function startThrowawayRedis(): Promise<ThrowawayRedis> {
  const port = await freePort();
  const dir = await tempDir('obsnest-redis-');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir.path],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    proc.stdout?.on('data', (d) => (out += d));
    proc.stderr?.on('data', (d) => (out += d));
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    child = proc;
    await waitFor(
      `redis-server on port ${port}`,
      () => {
        if (proc.exitCode !== null) throw new Error(`redis-server exited: ${out}`);
        return out.includes('Ready to accept connections') || undefined;
      },
      10_000,
    );
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    child = undefined;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: start,
    async close() {
      await kill();
      await dir.remove();
    },
  };
}
