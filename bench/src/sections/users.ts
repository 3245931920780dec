/**
 * `GET /users/:id` on the real API and PostgreSQL, METRICS_ENABLED on and off, both adapters
 * (section 1, database route), and the API's memory at rest and under load (section 4).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Context } from '../context.js';
import { httpText } from '../lib/http.js';
import { ServerProcess } from '../lib/proc.js';
import { apiEntry } from '../soak/api.js';
import { rotatedRounds, type TargetSummary } from '../lib/rounds.js';
import type { Adapter } from '../variants.js';
import { counted } from './flood.js';
import { type MemoryReading, memoryOf } from './overhead.js';
import type { ApiVariantResult, ApiProbe, UsersResult } from '../results.js';
export type { ApiVariantResult, ApiProbe, UsersResult };

const API_ENTRY = apiEntry();
const PROBE = new URL('../servers/probe.js', import.meta.url).href;
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const METRICS_TOKEN = 'bench-metrics-token-0123456789';
const execFileAsync = promisify(execFile);

const MALFORMED = ['/users/%zz', '/users/abc%E0%A4%A', '/%zz', '/users?cursor=%zz', '/users/%2', '/health/%zz'];

/**
 * The API (metrics on) against the malformed URLs that broke the bench server in the cardinality
 * attack, one at a time, checking after each that it is still alive. Runs last: it may kill it.
 */
async function probeMalformed(ctx: Context, adapter: Adapter, server: ServerProcess): Promise<ApiProbe> {
  const requests: ApiProbe['requests'] = [];
  const total = async () =>
    counted((await httpText(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).body);
  const before = await total();
  for (const path of MALFORMED) {
    const status = await httpText(`${server.url}${path}`).then(
      (r) => r.status,
      (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 300));
    const aliveAfter =
      !server.hasExited &&
      (await httpText(`${server.url}/health/live`).then(
        (r) => r.status === 200,
        () => false,
      ));
    requests.push({ path, status, aliveAfter });
    if (!aliveAfter) break;
  }
  const crash = server.hasExited
    ? server.errorOutput
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.startsWith('{'))
        .slice(0, 8)
        .join('\n')
    : undefined;
  // /health/live is not counted, so the difference is what the malformed requests added.
  const countedDuring = crash === undefined ? (await total()) - before : undefined;
  ctx.log(
    `users: API on ${adapter} vs malformed URLs: ${requests.map((r) => `${r.path} → ${r.status}${r.aliveAfter ? '' : ' (API DIED)'}`).join(', ')}` +
      (countedDuring === undefined ? '' : `; counted ${countedDuring} of ${requests.length}`),
  );
  return { adapter, requests, crash, counted: countedDuring };
}

/** Every arm answers the route, and only the metrics-on one counts it. */
async function validate(server: ServerProcess, id: string, userId: string, metricsEnabled: boolean): Promise<void> {
  const got = await httpText(`${server.url}/users/${userId}`);
  if (got.status !== 200) throw new Error(`${id}: GET /users/:id answered ${got.status}`);
  const metrics = await httpText(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  const counted = metrics.body.includes('http_requests_total{method="GET",route="/users/:id",status_code="200"}');
  if (metricsEnabled !== counted) throw new Error(`${id}: /metrics ${metrics.status}, request counted: ${counted}`);
}

/**
 * Pins the PostgreSQL backends serving the bench database to the load generator's core. Unpinned,
 * the scheduler may put them on the API's core too, where they would take turns with the API in its
 * own measured quanta; the API's pool opens its connections during the warm-up, so that is when they
 * exist. Returns how many were pinned.
 */
async function pinBackends(admin: pg.Client, database: string, cpu: string): Promise<number> {
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
  for (const { pid } of rows) await execFileAsync('taskset', ['-p', '-c', cpu, String(pid)]);
  return rows.length;
}

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function runUsers(ctx: Context): Promise<UsersResult> {
  if (!new URL(ADMIN_URL).hostname.startsWith('127.')) throw new Error('BENCH_POSTGRES_URL must point to 127.0.0.1');
  const dbName = `obsnest_bench_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'obsnest-bench-'));
  ctx.log(`users: fresh database ${dbName} on ${new URL(ADMIN_URL).host}`);
  const environment = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DATA_DIR: dataDir,
    SHUTDOWN_DRAIN_MS: '0',
    METRICS_TOKEN,
    DATABASE_URL: databaseUrl(dbName),
  };
  const variants: ApiVariantResult[] = [];
  const malformed: ApiProbe[] = [];
  const started = new Set<ServerProcess>();
  const stop = async (server: ServerProcess) => {
    started.delete(server);
    await ctx.stop(server);
  };
  const startApi = async (name: string, adapter: Adapter, metricsEnabled: boolean) => {
    const server = await ServerProcess.start({
      name,
      entry: API_ENTRY,
      cpu: ctx.options.serverCpu,
      nodeFlags: ['--import', PROBE],
      env: { ...environment, HTTP_ADAPTER: adapter, METRICS_ENABLED: String(metricsEnabled) },
      readyUrl: '/health/ready',
    });
    ctx.track(server);
    started.add(server);
    return server;
  };
  try {
    // One API runs the migrations and creates the row every later process reads.
    const setup = await startApi('users-setup', ctx.options.adapters[0] ?? 'express', false);
    const created = await httpText(`${setup.url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `bench-${Date.now()}@example.com`, name: 'Bench User' }),
    });
    await stop(setup);
    if (created.status !== 201) throw new Error(`POST /users answered ${created.status}: ${created.body}`);
    const userId = (JSON.parse(created.body) as { id: string }).id;
    for (const adapter of ctx.options.adapters) {
      // The metrics-off API twice: the second copy is the A/A arm the metrics-on difference is judged against.
      const arms = (['off', 'off-again', 'on'] as const).map((arm) => {
        const id = `${adapter}/api-metrics-${arm}`;
        return {
          id,
          metricsEnabled: arm === 'on',
          baseline: arm === 'off' ? '' : `${adapter}/api-metrics-off`,
          path: `/users/${userId}`,
          start: (round: number) => startApi(`${id}-${round}`, adapter, arm === 'on'),
        };
      });
      const atRest = new Map<string, MemoryReading>();
      const afterLoad = new Map<string, MemoryReading>();
      const inspect = async (servers: ReadonlyMap<string, ServerProcess>, phase: 'first' | 'last') => {
        await new Promise((r) => setTimeout(r, 1000));
        for (const arm of arms) {
          const server = servers.get(arm.id) as ServerProcess;
          (phase === 'first' ? atRest : afterLoad).set(arm.id, await memoryOf(server));
          if (phase === 'first') await validate(server, arm.id, userId, arm.metricsEnabled);
        }
        if (phase === 'last')
          for (const arm of arms)
            if (arm.metricsEnabled) malformed.push(await probeMalformed(ctx, adapter, servers.get(arm.id) as ServerProcess));
      };
      ctx.log(
        `users: ${adapter}, ${ctx.options.rounds}+ rounds of fresh processes, ${ctx.options.warmupSeconds}s warm-up each, then ${ctx.options.seconds}s per arm in quanta`,
      );
      const afterWarmup = async (round: number) => {
        const pinned = await pinBackends(admin, dbName, ctx.options.loadCpu);
        if (round === 1) ctx.log(`users: ${pinned} PostgreSQL backends pinned to core ${ctx.options.loadCpu}, with wrk`);
      };
      const summaries = await rotatedRounds(arms, {
        ...ctx.options,
        aa: { arm: `${adapter}/api-metrics-off-again`, baseline: `${adapter}/api-metrics-off` },
        log: ctx.log,
        inspect,
        afterWarmup,
        stop,
      });
      for (const arm of arms)
        variants.push({
          id: arm.id,
          adapter,
          metricsEnabled: arm.metricsEnabled,
          atRest: atRest.get(arm.id) as MemoryReading,
          afterLoad: afterLoad.get(arm.id) as MemoryReading,
          summary: summaries.find((x) => x.id === arm.id) as TargetSummary,
        });
    }
    return {
      route: 'GET /users/:id (PostgreSQL)',
      database: `PostgreSQL ${(await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version} on 127.0.0.1, fresh database, one row`,
      environment: { ...environment, DATABASE_URL: `${ADMIN_URL.replace(/\/[^/]*$/, '')}/<fresh>`, METRICS_TOKEN: '(set)' },
      variants,
      malformed,
    };
  } finally {
    for (const server of started) await ctx.stop(server);
    await admin
      .query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
      .catch((e: Error) => ctx.log(`users: could not drop ${dbName}: ${e.message}`));
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
