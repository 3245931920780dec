/**
 * Whether a request costs more as the data grows (issue 12, "a flat embedded default"): the real
 * API's bin on databases seeded with 1k, 20k and 100k sign-ups, PGlite (the embedded default) and
 * PostgreSQL, `POST /users` and `GET /users/:id` measured as CPU per request, interleaved round by
 * round across the points, with the smallest point seeded and run twice (two processes, two
 * databases) as the A/A pair every ratio is read against.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { openDatabase, seedSignups } from '@obsnest/api/seed';
import type { Context } from '../context.js';
import { ClosedLoop } from '../lib/closed-loop.js';
import { ServerProcess } from '../lib/proc.js';
import { shuffled } from '../lib/stats.js';
import { apiEntry, pinSelf } from '../soak/api.js';
import { memoryOf } from './overhead.js';
import type { GrowthBackend, GrowthBatch, GrowthPoint, GrowthResult, MemoryReading } from '../results.js';

const API_ENTRY = apiEntry();
const PROBE = new URL('../servers/probe.js', import.meta.url).href;
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const METRICS_TOKEN = 'bench-metrics-token-0123456789';
/** Clients in flight: PGlite has one connection, so more only queue inside the API. */
const CONCURRENCY = 4;
const SCRAPES_PER_BATCH = 10;

interface Point {
  readonly id: string;
  readonly seeded: number;
  readonly dataDir: string;
  readonly dbName?: string;
  readonly ids: string[];
  seedSeconds: number;
  server?: ServerProcess;
  atRest?: MemoryReading;
  created: number;
  batches: GrowthBatch[];
}

const label = (n: number) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * CPU seconds of the PostgreSQL backends serving one API (its pool), by pid: the first field of
 * /proc/<pid>/schedstat, nanoseconds on the CPU, as /proc/<pid>/stat's 10 ms ticks are too coarse
 * for a backend's share of a hundred sign-ups.
 */
async function backendCpu(admin: pg.Client, dbName: string): Promise<Map<number, number>> {
  const { rows } = await admin.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'obsnest-api' AND backend_type = 'client backend'",
    [dbName],
  );
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      out.set(pid, Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e9);
    } catch {
      // exited between the query and the read
    }
  }
  return out;
}

/** Backend CPU spent between two readings; a backend born in between counts from zero. */
const backendDelta = (before: Map<number, number>, after: Map<number, number>): number =>
  [...after].reduce((sum, [pid, s]) => sum + s - (before.get(pid) ?? 0), 0);

async function apiCpuSeconds(server: ServerProcess): Promise<number> {
  const usage = await server.call<{ user: number; system: number }>('cpu');
  return (usage.user + usage.system) / 1e6;
}

/** What the development mailbox holds after these sign-ups: one small .eml file per welcome email. */
function writeMailbox(dataDir: string, ids: readonly string[]): void {
  const dir = join(dataDir, 'mail');
  mkdirSync(dir, { recursive: true });
  for (const id of ids) writeFileSync(join(dir, `welcome-${id}.eml`), `Subject: Welcome\n\nyour account (${id}) is ready.\n`);
}

/** Table sizes and dead rows, read with the API stopped (PGlite takes one process at a time). */
async function relationStats(query: (sql: string) => Promise<Record<string, unknown>[]>): Promise<Record<string, number>> {
  const rows = await query(
    `SELECT relname, pg_total_relation_size(relid)::float8 AS bytes, n_live_tup::float8 AS live, n_dead_tup::float8 AS dead
     FROM pg_stat_user_tables WHERE relname IN ('users', 'outbox', 'sent_emails')`,
  );
  const out: Record<string, number> = {};
  for (const r of rows) {
    out[`${String(r.relname)}.bytes`] = Number(r.bytes);
    out[`${String(r.relname)}.live`] = Number(r.live);
    out[`${String(r.relname)}.dead`] = Number(r.dead);
  }
  return out;
}

async function runBackend(ctx: Context, backend: 'pglite' | 'postgres', admin: pg.Client | undefined): Promise<GrowthBackend> {
  const o = ctx.options;
  const [smallest, ...larger] = o.growthPoints;
  const plan = [
    { id: label(smallest), seeded: smallest },
    { id: `${label(smallest)}-again`, seeded: smallest },
    ...larger.map((n) => ({ id: label(n), seeded: n })),
  ];
  const run = `${process.pid}-${Date.now()}`;
  const points: Point[] = [];
  const loops = new Map<string, { requests: ClosedLoop; scrapes: ClosedLoop }>();
  try {
    for (const p of plan) {
      const dataDir = mkdtempSync(join(tmpdir(), `obsnest-growth-${backend}-`));
      const dbName = backend === 'postgres' ? `obsnest_growth_${run.replace('-', '_')}_${p.id.replace('-', '_')}` : undefined;
      const point: Point = { ...p, dataDir, dbName, ids: [], seedSeconds: 0, created: 0, batches: [] };
      points.push(point);
      const t = performance.now();
      if (dbName) await admin!.query(`CREATE DATABASE ${dbName}`);
      const db = await openDatabase({ databaseUrl: dbName && databaseUrl(dbName), dataDir });
      try {
        point.ids.push(...(await seedSignups(db, { count: p.seeded, first: 1, emailPrefix: `seed-${p.id}-` })));
        // On PostgreSQL autovacuum would get to the freshly loaded tables within a minute or so;
        // done here so it does not run during the rounds. PGlite has no autovacuum (one process,
        // no background workers), so its tables stay as the sign-ups left them.
        if (backend === 'postgres') await db.query('VACUUM ANALYZE');
      } finally {
        await db.close();
      }
      writeMailbox(dataDir, point.ids);
      point.seedSeconds = (performance.now() - t) / 1000;
      ctx.log(`growth/${backend}: seeded ${p.id} (${p.seeded.toLocaleString('en-US')} sign-ups) in ${point.seedSeconds.toFixed(1)} s`);
    }
    for (const p of points) {
      p.server = await ServerProcess.start({
        name: `growth/${backend}/${p.id}`,
        entry: API_ENTRY,
        cpu: o.serverCpu,
        nodeFlags: ['--import', PROBE],
        env: {
          NODE_ENV: 'production',
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
          DATA_DIR: p.dataDir,
          METRICS_TOKEN,
          RATE_LIMIT_WRITES: '0',
          SHUTDOWN_DRAIN_MS: '0',
          ...(p.dbName ? { DATABASE_URL: databaseUrl(p.dbName) } : {}),
        },
        readyUrl: '/health/ready',
        startTimeoutMs: 120_000,
      });
      ctx.track(p.server);
      loops.set(p.id, { requests: new ClosedLoop(p.server.url, CONCURRENCY), scrapes: new ClosedLoop(p.server.url, 1) });
    }
    await sleep(1000);
    for (const p of points) p.atRest = await memoryOf(p.server!);

    const listsPerBatch = Math.max(1, Math.round(o.growthReads / 10));
    let seq = 0;
    const signups = async (p: Point, count: number) => {
      const result = await loops
        .get(p.id)!
        .requests.run(
          count,
          () => ({ method: 'POST', path: '/users', json: { email: `growth-${run}-${++seq}@example.com`, name: 'Growth User' } }),
          true,
        );
      if (result.statuses['201'] !== count) throw new Error(`${p.id}: POST /users answered ${JSON.stringify(result.statuses)}`);
      for (const body of result.bodies) p.ids.push((JSON.parse(body) as { id: string }).id);
      p.created += count;
    };
    const reads = async (p: Point, count: number) => {
      const result = await loops
        .get(p.id)!
        .requests.run(count, () => ({ method: 'GET', path: `/users/${p.ids[Math.floor(Math.random() * p.ids.length)]}` }));
      if (result.statuses['200'] !== count) throw new Error(`${p.id}: GET /users/:id answered ${JSON.stringify(result.statuses)}`);
    };
    // The first page of the list, oldest first, as a client starts paging.
    const lists = async (p: Point, count: number) => {
      const result = await loops.get(p.id)!.requests.run(count, () => ({ method: 'GET', path: '/users?limit=100' }));
      if (result.statuses['200'] !== count) throw new Error(`${p.id}: GET /users answered ${JSON.stringify(result.statuses)}`);
    };
    const scrapes = async (p: Point, count: number) => {
      const result = await loops
        .get(p.id)!
        .scrapes.run(count, () => ({ method: 'GET', path: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } }));
      if (result.statuses['200'] !== count) throw new Error(`${p.id}: GET /metrics answered ${JSON.stringify(result.statuses)}`);
    };
    // A sign-up's relay pass and email job run after its response; let them finish inside the window.
    const settle = () => sleep(300);

    ctx.log(`growth/${backend}: warm-up (${o.growthWarmupSignups} sign-ups, ${o.growthWarmupSignups * 10} reads each)`);
    for (const p of points) {
      await signups(p, o.growthWarmupSignups);
      await reads(p, o.growthWarmupSignups * 10);
      await lists(p, o.growthWarmupSignups);
      await scrapes(p, SCRAPES_PER_BATCH);
    }
    for (let round = 1; round <= o.growthRounds; round++) {
      for (const p of shuffled(points, o.seed + round)) {
        const server = p.server!;
        const users = p.seeded + p.created;
        const reading = async () => ({
          api: await apiCpuSeconds(server),
          db: admin && p.dbName ? await backendCpu(admin, p.dbName) : undefined,
        });
        const r0 = await reading();
        await signups(p, o.growthSignups);
        await settle();
        const r1 = await reading();
        await reads(p, o.growthReads);
        await settle();
        const r2 = await reading();
        await scrapes(p, SCRAPES_PER_BATCH);
        const r3 = await reading();
        await lists(p, listsPerBatch);
        const r4 = await reading();
        const ms = (a: typeof r0, b: typeof r0, n: number) => ({
          api: ((b.api - a.api) / n) * 1000,
          db: a.db && b.db ? (backendDelta(a.db, b.db) / n) * 1000 : undefined,
        });
        const s = ms(r0, r1, o.growthSignups);
        const g = ms(r1, r2, o.growthReads);
        const m = ms(r2, r3, SCRAPES_PER_BATCH);
        const l = ms(r3, r4, listsPerBatch);
        p.batches.push({
          round,
          users,
          signupCpuMs: s.api,
          readCpuMs: g.api,
          scrapeCpuMs: m.api,
          listCpuMs: l.api,
          listDbCpuMs: l.db,
          signupDbCpuMs: s.db,
          readDbCpuMs: g.db,
          scrapeDbCpuMs: m.db,
          rssBytes: server.rssBytes(),
        });
      }
      const line = points
        .map((p) => {
          const b = p.batches.at(-1)!;
          return `${p.id} ${b.signupCpuMs.toFixed(2)}/${b.readCpuMs.toFixed(2)}`;
        })
        .join(', ');
      ctx.log(`growth/${backend}: round ${round}/${o.growthRounds} (POST/GET API ms/req): ${line}`);
    }
    const result: GrowthPoint[] = [];
    for (const p of points) {
      await ctx.stop(p.server!);
      let relations: Record<string, number> = {};
      const db = await openDatabase({ databaseUrl: p.dbName && databaseUrl(p.dbName), dataDir: p.dataDir });
      try {
        relations = await relationStats((sql) => db.query(sql));
      } finally {
        await db.close();
      }
      result.push({
        id: p.id,
        seeded: p.seeded,
        seedSeconds: p.seedSeconds,
        usersAtEnd: p.seeded + p.created,
        atRest: p.atRest!,
        batches: p.batches,
        relations,
      });
    }
    const version = admin ? (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version : undefined;
    return {
      backend,
      description:
        backend === 'pglite'
          ? 'PGlite under DATA_DIR (the embedded default), in-process queue, development mailbox'
          : `PostgreSQL ${version} on 127.0.0.1 (one fresh database per point, VACUUM ANALYZE after seeding), in-process queue, development mailbox`,
      points: result,
    };
  } finally {
    for (const l of loops.values()) {
      l.requests.close();
      l.scrapes.close();
    }
    for (const p of points) {
      if (p.server) await ctx.stop(p.server);
      if (p.dbName)
        await admin!
          .query(`DROP DATABASE IF EXISTS ${p.dbName} WITH (FORCE)`)
          .catch((e: Error) => ctx.log(`growth: could not drop ${p.dbName}: ${e.message}`));
      rmSync(p.dataDir, { recursive: true, force: true });
    }
  }
}

export async function runGrowth(ctx: Context): Promise<GrowthResult> {
  const o = ctx.options;
  if (o.growthPoints.length < 2) throw new Error('--growth-points needs at least two sizes');
  if (!new URL(ADMIN_URL).hostname.startsWith('127.')) throw new Error('BENCH_POSTGRES_URL must point to 127.0.0.1');
  // The harness is the load generator here: on the load core, away from the servers.
  pinSelf(o.loadCpu);
  const admin = o.growthBackends.includes('postgres') ? new pg.Client({ connectionString: ADMIN_URL }) : undefined;
  await admin?.connect();
  try {
    const backends: GrowthBackend[] = [];
    for (const backend of o.growthBackends) backends.push(await runBackend(ctx, backend, admin));
    return {
      adapter: 'express',
      concurrency: CONCURRENCY,
      signupsPerBatch: o.growthSignups,
      readsPerBatch: o.growthReads,
      scrapesPerBatch: SCRAPES_PER_BATCH,
      listsPerBatch: Math.max(1, Math.round(o.growthReads / 10)),
      warmupSignups: o.growthWarmupSignups,
      rounds: o.growthRounds,
      backends,
    };
  } finally {
    await admin?.end();
    pinSelf(`0-${cpus().length - 1}`);
  }
}
