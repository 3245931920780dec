import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Ports this process has handed out. The kernel may give the same free port to two consecutive
 * listen(0) calls once the first is closed, and a test that asks for several ports before starting
 * anything would then hand one port to two services; so a port is handed out at most once.
 */
const handedOut = new Set<number>();

/** A port free on 127.0.0.1 now, never one this process has returned before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await listenedPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function listenedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls `probe` until it returns something other than undefined or false, and returns that. A probe
 * that throws is retried; at the deadline the failure names what was awaited and the last error, so
 * a wrong value keeps failing and is reported rather than hanging the test.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const reason = last instanceof Error ? last.message : last === undefined ? 'never true' : String(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${reason}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * mulberry32: a small, fast generator giving the same sequence for the same seed on every machine,
 * so a failing random case (or a bench's variant order) is reproduced from its seed.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TempDir {
  readonly path: string;
  remove(): Promise<void>;
}

export async function tempDir(prefix = 'obsnest-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * The file a package's bin runs, found through its package.json as npm would link it (never a
 * path inside another workspace's build output). Run it with process.execPath.
 */
export function packageBin(pkg: string, bin: string): string {
  const manifestFile = createRequire(import.meta.url).resolve(`${pkg}/package.json`);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { bin?: string | Record<string, string> };
  const target = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.[bin];
  if (!target) throw new Error(`${pkg} declares no bin ${bin}`);
  return join(dirname(manifestFile), target);
}
