import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { INestApplication } from '@nestjs/common';
import type { MetricContract } from '@obsnest/observability';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/logging/logger.js';
import { createTempDatabase, REDIS_URL, tempDir, uniquePrefix, waitFor } from './services.js';

export type Adapter = 'express' | 'fastify';
export type Backends = 'embedded' | 'real';

export const ADAPTERS: readonly Adapter[] = ['express', 'fastify'];
export const BACKENDS: readonly Backends[] = ['embedded', 'real'];

export interface RunningApi {
  readonly url: string;
  readonly app: INestApplication;
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Environment for one isolated API: embedded = PGlite + in-process queue in a temp dir;
 * real = a fresh database on the machine's PostgreSQL + BullMQ on its Redis under a unique prefix.
 */
export async function isolatedEnv(backends: Backends, adapter: Adapter, extra: Record<string, string> = {}) {
  const dir = await tempDir();
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    HTTP_ADAPTER: adapter,
    DATA_DIR: dir.path,
    LOG_LEVEL: 'silent',
    EMAIL_JOB_BACKOFF_MS: '50',
    ...extra,
  };
  const cleanups: (() => Promise<void>)[] = [dir.remove];
  if (backends === 'real') {
    const db = await createTempDatabase();
    env.DATABASE_URL = db.url;
    env.REDIS_URL = REDIS_URL;
    env.QUEUE_PREFIX = uniquePrefix();
    cleanups.unshift(db.drop);
  }
  // The caller's overrides win, e.g. a REDIS_URL pointing at a dead port.
  Object.assign(env, extra);
  return {
    env,
    cleanup: async () => {
      for (const c of cleanups) await c();
    },
  };
}

/** Starts the real application in this process on a free loopback port; `metrics`: extra contracts it serves. */
export async function startApi(
  backends: Backends,
  adapter: Adapter,
  extra: Record<string, string> = {},
  metrics: readonly MetricContract[] = [],
): Promise<RunningApi> {
  const { env, cleanup } = await isolatedEnv(backends, adapter, extra);
  const config = loadConfig(env);
  const app = await createApp(config, createLogger(config.LOG_LEVEL), metrics);
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    url,
    app,
    env,
    async close() {
      await app.close();
      await cleanup();
    },
  };
}

export const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export interface SpawnedApi {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

/** Runs `node main.js` as a user would, with exactly the given environment (plus PATH). */
export function spawnApi(env: Record<string, string>): SpawnedApi {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

export async function waitUntilListening(api: SpawnedApi, timeoutMs = 30_000): Promise<void> {
  await waitFor('the API to listen', () => api.output().includes('"msg":"listening"') || undefined, timeoutMs);
}

export async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}
