/**
 * `GET /users/:id` on the real API and PostgreSQL, METRICS_ENABLED on and off, both adapters
 * (section 1, database route), and the API's memory at rest and under load (section 4).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Context } from '../context.js';
import { httpText } from '../lib/http.js';
import { ServerProcess } from '../lib/proc.js';
import { apiEntry } from '../soak/api.js';
import { interleave } from '../lib/rounds.js';
import type { Adapter } from '../variants.js';
import { counted } from './flood.js';
import { type MemoryReading, memoryOf } from './overhead.js';
import type { ApiVariantResult, ApiProbe, UsersResult } from '../results.js';
export type { ApiVariantResult, ApiProbe, UsersResult };

const API_ENTRY = apiEntry();
const PROBE = new URL('../servers/probe.js', import.meta.url).href;
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const METRICS_TOKEN = 'bench-metrics-token-0123456789';

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
  const servers: { id: string; adapter: Adapter; metricsEnabled: boolean; server: ServerProcess }[] = [];
  try {
    for (const adapter of ctx.options.adapters) {
      // The metrics-off API twice: the second copy is the A/A arm the metrics-on difference is judged against.
      for (const arm of ['off', 'off-again', 'on'] as const) {
        const metricsEnabled = arm === 'on';
        const id = `${adapter}/api-metrics-${arm}`;
        // One at a time: the first one runs the migrations.
        const server = await ServerProcess.start({
          name: id,
          entry: API_ENTRY,
          cpu: ctx.options.serverCpu,
          nodeFlags: ['--import', PROBE],
          env: { ...environment, HTTP_ADAPTER: adapter, METRICS_ENABLED: String(metricsEnabled) },
          readyUrl: '/health/ready',
        });
        ctx.track(server);
        servers.push({ id, adapter, metricsEnabled, server });
      }
    }
    const created = await httpText(`${servers[0].server.url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `bench-${Date.now()}@example.com`, name: 'Bench User' }),
    });
    if (created.status !== 201) throw new Error(`POST /users answered ${created.status}: ${created.body}`);
    const userId = (JSON.parse(created.body) as { id: string }).id;
    for (const s of servers) {
      const got = await httpText(`${s.server.url}/users/${userId}`);
      if (got.status !== 200) throw new Error(`${s.id}: GET /users/:id answered ${got.status}`);
      const metrics = await httpText(`${s.server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      const counted = metrics.body.includes('http_requests_total{method="GET",route="/users/:id",status_code="200"}');
      if (s.metricsEnabled !== counted) throw new Error(`${s.id}: /metrics ${metrics.status}, request counted: ${counted}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const atRest = new Map<string, MemoryReading>();
    for (const s of servers) atRest.set(s.id, await memoryOf(s.server));

    const targets = servers.map((s) => ({
      id: s.id,
      server: s.server,
      url: `${s.server.url}/users/${userId}`,
      baseline: s.id.endsWith('/api-metrics-off') ? '' : `${s.adapter}/api-metrics-off`,
    }));
    ctx.log(`users: warm-up ${ctx.options.warmupSeconds}s each, then ${ctx.options.rounds} rounds of ${ctx.options.seconds}s, interleaved`);
    const summaries = await interleave(targets, { ...ctx.options, log: ctx.log });
    await new Promise((r) => setTimeout(r, 1000));
    const afterLoad = new Map<string, MemoryReading>();
    for (const s of servers) afterLoad.set(s.id, await memoryOf(s.server));
    const malformed: ApiProbe[] = [];
    for (const s of servers) if (s.metricsEnabled) malformed.push(await probeMalformed(ctx, s.adapter, s.server));
    return {
      route: 'GET /users/:id (PostgreSQL)',
      database: `PostgreSQL ${(await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version} on 127.0.0.1, fresh database, one row`,
      environment: { ...environment, DATABASE_URL: `${ADMIN_URL.replace(/\/[^/]*$/, '')}/<fresh>`, METRICS_TOKEN: '(set)' },
      variants: servers.map((s) => ({
        id: s.id,
        adapter: s.adapter,
        metricsEnabled: s.metricsEnabled,
        atRest: atRest.get(s.id)!,
        afterLoad: afterLoad.get(s.id)!,
        summary: summaries.find((x) => x.id === s.id)!,
      })),
      malformed,
    };
  } finally {
    for (const s of servers) await ctx.stop(s.server);
    await admin
      .query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
      .catch((e: Error) => ctx.log(`users: could not drop ${dbName}: ${e.message}`));
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
