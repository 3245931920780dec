/** The API under soak: the built `apps/api` as a user runs it, with embedded or real backends. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort, packageBin } from '@obsnest/testkit';
import type { Adapter } from './options.js';

/** The API's bin, as `npm run api` and the stack runner start it. */
export const apiEntry = (): string => packageBin('@obsnest/api', 'obsnest-api');

/** Whether `taskset -c <cpus>` works here (util-linux installed and the cores exist). */
export function canPin(...cpus: string[]): boolean {
  return cpus.every((cpu) => spawnSync('taskset', ['-c', cpu, 'true'], { stdio: 'ignore' }).status === 0);
}

/** Moves every thread of this process to `cpu`; threads started later inherit it. */
export function pinSelf(cpu: string): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', cpu, String(process.pid)], { stdio: 'ignore' }).status === 0;
}

export interface Backends {
  readonly description: string;
  readonly env: Record<string, string>;
  cleanup(): Promise<void>;
}

export function embeddedBackends(): Backends {
  return { description: 'embedded (PGlite under DATA_DIR, in-process queue)', env: {}, cleanup: async () => undefined };
}

function loopbackOnly(url: string, what: string): void {
  const host = new URL(url).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') throw new Error(`${what} must point to this machine: ${url}`);
}

/**
 * A fresh database on the machine's PostgreSQL and a unique BullMQ prefix on its Redis, so the
 * soak neither reads nor leaves anything of anyone else's; both are removed by cleanup().
 */
export async function realBackends(postgresUrl: string, redisUrl: string): Promise<Backends> {
  loopbackOnly(postgresUrl, 'SOAK_POSTGRES_URL');
  loopbackOnly(redisUrl, 'SOAK_REDIS_URL');
  const suffix = randomBytes(5).toString('hex');
  const dbName = `obsnest_soak_${suffix}`;
  const prefix = `obsnest-soak-${suffix}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  let version = '';
  try {
    version = ((await admin.query('SHOW server_version')).rows[0] as { server_version: string }).server_version;
    await admin.query(`CREATE DATABASE ${dbName}`);
  } finally {
    await admin.end();
  }
  const ping = spawnSync('redis-cli', ['-u', redisUrl, 'PING'], { encoding: 'utf8' });
  if (ping.status !== 0 || !ping.stdout.includes('PONG')) throw new Error(`Redis at ${redisUrl} does not answer PING: ${ping.stderr}`);
  const dbUrl = new URL(postgresUrl);
  dbUrl.pathname = `/${dbName}`;
  return {
    description: `PostgreSQL ${version} (database ${dbName}, dropped afterwards), Redis (QUEUE_PREFIX ${prefix}, deleted afterwards)`,
    env: { DATABASE_URL: dbUrl.toString(), REDIS_URL: redisUrl, QUEUE_PREFIX: prefix },
    cleanup: async () => {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      } finally {
        await client.end();
      }
      // KEYS is fine on a test Redis and keeps this free of a Redis client dependency.
      const script = "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) n = n + 1 end return n";
      spawnSync('redis-cli', ['-u', redisUrl, 'EVAL', script, '0', `${prefix}:*`], { stdio: 'ignore' });
    },
  };
}

export interface ApiStart {
  readonly adapter: Adapter;
  readonly dataDir: string;
  readonly backendEnv: Record<string, string>;
  /** Core for `taskset -c`, or undefined to leave it unpinned. */
  readonly cpu: string | undefined;
  readonly metricsToken: string;
}

export class SoakApi {
  private log = '';
  private errorLines = 0;
  private warnLines = 0;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private hasExited = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.hasExited = true;
        resolve({ code, signal });
      }),
    );
    let partial = '';
    const onData = (chunk: string) => {
      const text = partial + chunk;
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        // pino levels: 40 warn, 50 error, 60 fatal.
        const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);
        if (level >= 50) this.errorLines++;
        else if (level >= 40) this.warnLines++;
      }
      this.log = (this.log + chunk).slice(-50_000);
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onData);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return !this.hasExited;
  }

  /** Log lines at error/fatal and at warn level, as counted so far. */
  get logCounts(): { errors: number; warnings: number } {
    return { errors: this.errorLines, warnings: this.warnLines };
  }

  output(): string {
    return this.log;
  }

  /**
   * NODE_ENV=production with a METRICS_TOKEN, as deployed; LOG_LEVEL=warn so the access log does
   * not grow the pipe buffers of this harness instead of the API. Only PATH and HOME are passed
   * from this shell: a DATABASE_URL exported there must not change the backends silently.
   */
  static async start(options: ApiStart): Promise<SoakApi> {
    const entry = apiEntry();
    if (!existsSync(entry)) throw new Error(`${entry} is missing: build first (npx tsc -b)`);
    const port = await freePort();
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      HTTP_ADAPTER: options.adapter,
      DATA_DIR: options.dataDir,
      LOG_LEVEL: 'warn',
      METRICS_TOKEN: options.metricsToken,
      // Every write of the soak comes from one address, which the per-IP write limit would turn
      // into 429s within seconds; the soak is about what the API keeps, not about that limit.
      RATE_LIMIT_WRITES: '0',
      ...options.backendEnv,
    };
    const [command, args] =
      options.cpu === undefined ? [process.execPath, [entry]] : ['taskset', ['-c', options.cpu, process.execPath, entry]];
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const api = new SoakApi(child, port);
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (!api.running) throw new Error(`the API exited before it was ready:\n${api.output().slice(-3000)}`);
      try {
        const response = await fetch(`${api.url}/health/ready`, { signal: AbortSignal.timeout(2000) });
        await response.arrayBuffer();
        if (response.ok) return api;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    await api.stop();
    throw new Error(`the API was not ready after 90 s:\n${api.output().slice(-3000)}`);
  }

  /** SIGTERM (graceful shutdown), SIGKILL if it outlives its own shutdown timeout. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
      const result = await this.exited;
      clearTimeout(timer);
      return result;
    }
    return this.exited;
  }
}
