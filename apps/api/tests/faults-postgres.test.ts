import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DatabaseUnavailableError } from '../src/database/database.js';
import { createPostgres } from '../src/database/postgres.js';
import { createLogger } from '../src/logging/logger.js';
import { ADAPTERS, type Adapter, isolatedEnv, type SpawnedApi, spawnApi, waitUntilListening } from './support/api.js';
import { type PostgresServer, startPostgresServer } from './support/postgres-server.js';
import { scrape, sampleValue, sumOf } from './support/scrape.js';
import { freePort, waitFor } from './support/services.js';

const CONNECT_TIMEOUT_MS = 500;
const POOL_MAX = 4;
/** What "fast" allows beyond DB_CONNECT_TIMEOUT_MS: scheduling on a busy 2-core machine, not a retry. */
const MARGIN_MS = 1000;

interface Running {
  readonly adapter: Adapter;
  readonly base: string;
  readonly process: SpawnedApi;
  readonly cleanup: () => Promise<void>;
  userId?: string;
}

interface Timed {
  status: number;
  ms: number;
  body: Record<string, unknown>;
  retryAfter: string | null;
}

async function timed(url: string, init: RequestInit = {}): Promise<Timed> {
  const started = performance.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  const ms = performance.now() - started;
  return {
    status: res.status,
    ms,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    retryAfter: res.headers.get('retry-after'),
  };
}

let n = 0;
const createUser = (base: string) =>
  timed(`${base}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: `pg-fault-${n++}-${Date.now()}@example.com`, name: 'Fault' }),
  });

/**
 * A PostgreSQL server of the test's own, shared by one API process per adapter: stopped as if it
 * crashed, then started again on the same port and data directory, with the APIs left running.
 */
describe('PostgreSQL goes down and comes back', { timeout: 90_000 }, () => {
  let pg: PostgresServer;
  const apis: Running[] = [];

  before(async () => {
    pg = await startPostgresServer();
    await Promise.all(
      ADAPTERS.map(async (adapter) => {
        const port = await freePort();
        const { env, cleanup } = await isolatedEnv('embedded', adapter, {
          PORT: String(port),
          LOG_LEVEL: 'info',
          DATABASE_URL: pg.url,
          DB_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
          DB_POOL_MAX: String(POOL_MAX),
        });
        const running: Running = { adapter, base: `http://127.0.0.1:${port}`, process: spawnApi(env), cleanup };
        apis.push(running);
        await waitUntilListening(running.process);
      }),
    );
  });

  after(async () => {
    for (const api of apis) {
      api.process.child.kill('SIGKILL');
      await api.cleanup();
    }
    await pg?.remove();
  });

  it('serves normally while PostgreSQL is up', async () => {
    for (const api of apis) {
      const created = await createUser(api.base);
      assert.equal(created.status, 201, `${api.adapter}: ${JSON.stringify(created.body)}`);
      api.userId = String(created.body.id);
      assert.equal((await timed(`${api.base}/users/${api.userId}`)).status, 200);
      assert.equal((await timed(`${api.base}/health/ready`)).status, 200);
    }
  });

  it('PostgreSQL stopped: requests that need it fail fast with 503 and a clear JSON error', async () => {
    await pg.stop('immediate');
    for (const api of apis) {
      const answers: [string, Timed][] = [];
      for (let i = 0; i < 3; i++) {
        answers.push([`GET /users/:id #${i}`, await timed(`${api.base}/users/${api.userId}`)]);
        answers.push([`POST /users #${i}`, await createUser(api.base)]);
        answers.push([`GET /users #${i}`, await timed(`${api.base}/users?limit=5`)]);
      }
      // More at once than the pool has connections: none may queue behind another's timeout.
      const burst = await Promise.all(Array.from({ length: 3 * POOL_MAX }, () => timed(`${api.base}/users/${api.userId}`)));
      answers.push(...burst.map((a, i): [string, Timed] => [`burst #${i}`, a]));
      for (const [what, a] of answers) {
        const label = `${api.adapter} ${what}`;
        assert.equal(a.status, 503, `${label}: ${JSON.stringify(a.body)}`);
        assert.ok(a.ms < CONNECT_TIMEOUT_MS + MARGIN_MS, `${label} took ${Math.round(a.ms)} ms`);
        assert.equal(a.body.statusCode, 503, label);
        assert.equal(a.body.error, 'Service Unavailable', label);
        assert.equal(a.body.message, 'the database is unavailable, try again shortly', label);
        assert.equal(typeof a.body.requestId, 'string', label);
        assert.equal(a.retryAfter, '5', label);
      }
    }
  });

  it('PostgreSQL stopped: readiness 503 naming the database, liveness 200', async () => {
    for (const api of apis) {
      const ready = await timed(`${api.base}/health/ready`);
      assert.equal(ready.status, 503, api.adapter);
      assert.ok(ready.ms < CONNECT_TIMEOUT_MS + MARGIN_MS, `readiness took ${Math.round(ready.ms)} ms`);
      assert.equal((ready.body.error as Record<string, { status: string }>).database.status, 'down');
      assert.equal((ready.body.info as Record<string, { status: string }>).queue.status, 'up', 'only the database is reported down');
      assert.equal((await timed(`${api.base}/health/live`)).status, 200, api.adapter);
    }
  });

  it('PostgreSQL stopped: /metrics answers, the pool holds no connection and nobody waits, the 503s are counted', async () => {
    for (const api of apis) {
      const samples = await scrape(api.base);
      assert.equal(sampleValue(samples, 'db_pool_max_connections'), POOL_MAX, api.adapter);
      assert.equal(sampleValue(samples, 'db_pool_connections', { state: 'active' }), 0, `${api.adapter}: active`);
      assert.equal(sampleValue(samples, 'db_pool_connections', { state: 'idle' }), 0, `${api.adapter}: idle`);
      assert.equal(sampleValue(samples, 'db_pool_pending_requests'), 0, `${api.adapter}: pending`);
      assert.equal(
        sampleValue(samples, 'http_requests_total', { method: 'GET', route: '/users/:id', status_code: '503' }),
        3 + 3 * POOL_MAX,
      );
      assert.equal(sampleValue(samples, 'http_requests_total', { method: 'POST', route: '/users', status_code: '503' }), 3);
      assert.equal(sumOf(samples, 'http_requests_total', { status_code: '500' }), 0, `${api.adapter}: no 500`);
    }
  });

  it('PostgreSQL back on the same port: each API recovers by itself, with its data', async () => {
    await pg.start();
    for (const api of apis) {
      await waitFor(
        `${api.adapter} to create users again`,
        async () => ((await createUser(api.base)).status === 201 ? true : undefined),
        15_000,
      );
      const read = await timed(`${api.base}/users/${api.userId}`);
      assert.equal(read.status, 200, 'the user created before the outage is still there');
      assert.equal((await timed(`${api.base}/health/ready`)).status, 200);
      const samples = await scrape(api.base);
      const open =
        (sampleValue(samples, 'db_pool_connections', { state: 'active' }) ?? 0) +
        (sampleValue(samples, 'db_pool_connections', { state: 'idle' }) ?? 0);
      assert.ok(open >= 1, `${api.adapter}: the pool reconnected`);
      assert.equal(api.process.child.exitCode, null, `${api.adapter} was not restarted`);
      assert.equal(sumOf(samples, 'http_requests_total', { status_code: '500' }), 0, `${api.adapter}: no 500 on the way back`);
      // An outage is logged once per request as one warning with its cause, not as an error with a stack.
      assert.match(api.process.output(), /"level":40,[^\n]*"msg":"database unavailable: (connect ECONNREFUSED|Connection terminated)/);
      assert.doesNotMatch(api.process.output(), /"level":50,[^\n]*DatabaseUnavailableError/);
    }
  });

  it('PostgreSQL frozen (accepts connections, never answers): queries fail within the query timeout', async () => {
    const queryTimeoutMs = 1000;
    const db = createPostgres({ url: pg.url, max: 2, connectTimeoutMs: CONNECT_TIMEOUT_MS, queryTimeoutMs }, createLogger('silent'));
    try {
      await db.query('SELECT 1');
      assert.equal(db.poolStats().idle, 1, 'one pooled connection, opened before the freeze');
      pg.freeze(true);
      const failsFast = async (what: string, work: () => Promise<unknown>, limitMs: number) => {
        const started = performance.now();
        await assert.rejects(work(), DatabaseUnavailableError, what);
        const ms = performance.now() - started;
        assert.ok(ms < limitMs + MARGIN_MS, `${what} took ${Math.round(ms)} ms`);
      };
      // On the pooled connection: only the query timeout can end the wait.
      await failsFast('a query on an open connection', () => db.query('SELECT 1'), queryTimeoutMs);
      // New connections: the connect timeout.
      await failsFast('a transaction', () => db.transaction((tx) => tx.query('SELECT 1')), CONNECT_TIMEOUT_MS + queryTimeoutMs);
      await failsFast('the readiness ping', () => db.ping(), CONNECT_TIMEOUT_MS + queryTimeoutMs);
      const stats = db.poolStats();
      assert.deepEqual([stats.active, stats.pending], [0, 0], 'no connection stuck in use, nobody waiting');
    } finally {
      pg.freeze(false);
    }
    assert.deepEqual(await db.query('SELECT 1 AS one'), [{ one: 1 }], 'works again once the server answers');
    await db.close();
  });
});
