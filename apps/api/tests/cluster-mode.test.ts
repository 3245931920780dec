import assert from 'node:assert/strict';
import { get } from 'node:http';
import { describe, it } from 'node:test';
import { isolatedEnv, type SpawnedApi, spawnApi } from './support/api.js';
import { parseExposition, type Sample, sampleValue } from './support/scrape.js';
import { freePort, waitFor } from './support/services.js';

const WORKERS = 4;
const TOKEN = 'cluster-test-token-0123456789';
const USERS_GET = { method: 'GET', route: '/users', status_code: '200' };

/** One GET on a connection of its own: node:cluster hands out connections, not requests, round robin. */
function getOnce(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

async function sendRequests(url: string, count: number, concurrency = 8): Promise<void> {
  let next = 0;
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        statuses.push(await getOnce(url));
      }
    }),
  );
  assert.deepEqual(
    statuses.filter((s) => s !== 200),
    [],
  );
}

async function scrapeAt(url: string, accept?: string): Promise<{ samples: Sample[]; contentType: string | null; body: string }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}`, ...(accept ? { accept } : {}) } });
  const body = await res.text();
  assert.equal(res.status, 200, body);
  // OpenMetrics' `# EOF` and `# UNIT` lines are comments to the text parser.
  return { samples: parseExposition(body), contentType: res.headers.get('content-type'), body };
}

interface LogLine {
  msg: string;
  worker?: number;
  pid?: number;
  route?: string;
  restartInMs?: number;
  role?: string;
}

function logLines(api: SpawnedApi): LogLine[] {
  return api
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** Requests to a route answered per worker slot, from the access log (every worker line names its slot). */
function servedBy(api: SpawnedApi, route: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const line of logLines(api)) {
    if (line.msg === 'request' && line.route === route && line.worker !== undefined)
      counts.set(line.worker, (counts.get(line.worker) ?? 0) + 1);
  }
  return counts;
}

async function startCluster(adapter: 'express' | 'fastify', extra: Record<string, string>) {
  const port = await freePort();
  const { env, cleanup } = await isolatedEnv('real', adapter, {
    PORT: String(port),
    API_WORKERS: String(WORKERS),
    LOG_LEVEL: 'info',
    METRICS_TOKEN: TOKEN,
    // Writes are not what this measures; reads are never limited anyway.
    DB_POOL_MAX: '2',
    ...extra,
  });
  const api = spawnApi(env);
  try {
    await waitFor(
      'every worker to listen',
      () => logLines(api).some((l) => l.role === 'primary' && l.msg === 'listening') || undefined,
      90_000,
    );
  } catch (error) {
    api.child.kill('SIGKILL');
    await cleanup();
    throw new Error(`${(error as Error).message}\n${api.output()}`);
  }
  return { api, base: `http://127.0.0.1:${port}`, env, cleanup };
}

describe(`node cluster mode (API_WORKERS=${WORKERS})`, { timeout: 240_000 }, () => {
  it('every scrape counts exactly the requests sent, served by every worker', async () => {
    const { api, base, cleanup } = await startCluster('express', {});
    try {
      await sendRequests(`${base}/users?limit=1`, 200);
      // A worker writes its access line as the response finishes: the last ones may trail the answer.
      const served = await waitFor('the access log to have every request', () => {
        const counts = servedBy(api, '/users');
        return [...counts.values()].reduce((a, b) => a + b, 0) === 200 ? counts : undefined;
      });
      assert.equal(served.size, WORKERS, `every worker served some: ${JSON.stringify([...served])}`);
      for (let i = 0; i < 6; i++) {
        const { samples } = await scrapeAt(`${base}/metrics`);
        assert.equal(sampleValue(samples, 'http_requests_total', USERS_GET), 200, `scrape ${i + 1}`);
        assert.equal(sampleValue(samples, 'http_request_duration_seconds_count', USERS_GET), 200);
        assert.equal(sampleValue(samples, 'http_request_duration_seconds_bucket', { ...USERS_GET, le: '+Inf' }), 200);
        assert.equal(sampleValue(samples, 'app_build_info'), 1, 'build info is not summed');
        assert.equal(sampleValue(samples, 'db_pool_max_connections'), 2 * WORKERS, 'one pool per worker');
      }
      // The bearer token guards the aggregate as it guards a single process's metrics.
      assert.equal((await fetch(`${base}/metrics`)).status, 401);
      // Health stays each worker's own, on the shared port.
      assert.equal((await fetch(`${base}/health/ready`)).status, 200);
    } finally {
      api.child.kill('SIGKILL');
      await cleanup();
    }
  });

  it('on the management port, in OpenMetrics too; a killed worker is replaced and its counts stay; SIGTERM drains every worker', async () => {
    const managementPort = await freePort();
    const { api, base, cleanup } = await startCluster('fastify', {
      MANAGEMENT_PORT: String(managementPort),
      SHUTDOWN_DRAIN_MS: '1500',
    });
    const management = `http://127.0.0.1:${managementPort}`;
    try {
      await sendRequests(`${base}/users?limit=1`, 120);
      for (let i = 0; i < 4; i++) {
        const { samples } = await scrapeAt(`${management}/metrics`);
        assert.equal(sampleValue(samples, 'http_requests_total', USERS_GET), 120, `scrape ${i + 1}`);
      }
      const om = await scrapeAt(`${management}/metrics`, 'application/openmetrics-text; version=1.0.0');
      assert.match(om.contentType ?? '', /^application\/openmetrics-text; version=1\.0\.0/);
      assert.match(om.body, /^# TYPE http_requests counter$/m);
      assert.match(om.body, /# EOF\n$/);
      assert.equal(sampleValue(om.samples, 'http_requests_total', USERS_GET), 120);
      assert.equal((await fetch(`${base}/metrics`)).status, 404, 'with a management port, not on PORT');

      // A worker dies: the primary logs it, replaces it after a back-off, and the aggregate keeps what
      // it had counted (every one of its requests was in the last scrape).
      const victim = logLines(api).find((l) => l.msg === 'worker listening' && l.worker === 2);
      assert.ok(victim?.pid, 'worker 2 logged its pid');
      process.kill(victim.pid, 'SIGKILL');
      const restart = await waitFor('the primary to restart worker 2', () =>
        logLines(api).find((l) => l.msg === 'worker exited unexpectedly, restarting it' && l.worker === 2),
      );
      assert.ok((restart.restartInMs ?? 0) > 0, 'a worker that crashed young is restarted after a delay');
      await waitFor(
        'the replacement to listen',
        () => logLines(api).some((l) => l.msg === 'worker listening' && l.worker === 2 && l.pid !== victim.pid) || undefined,
        60_000,
      );
      for (let i = 0; i < 3; i++) {
        const { samples } = await scrapeAt(`${management}/metrics`);
        assert.equal(sampleValue(samples, 'http_requests_total', USERS_GET), 120, `after the crash, scrape ${i + 1}`);
      }
      await sendRequests(`${base}/users?limit=1`, 80);
      for (let i = 0; i < 3; i++) {
        const { samples } = await scrapeAt(`${management}/metrics`);
        assert.equal(sampleValue(samples, 'http_requests_total', USERS_GET), 200, `after the replacement, scrape ${i + 1}`);
      }
      assert.equal(servedBy(api, '/users').size, WORKERS);

      // Light load through SIGTERM, stopping when readiness says so, as a load balancer does.
      let sending = true;
      const statuses: (number | string)[] = [];
      const load = (async () => {
        while (sending) {
          statuses.push(await getOnce(`${base}/users?limit=1`).catch((e: Error) => e.message));
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      await new Promise((r) => setTimeout(r, 300));
      api.child.kill('SIGTERM');
      await waitFor('readiness to report 503', async () => ((await fetch(`${management}/health/ready`)).status === 503 ? true : undefined));
      sending = false;
      await load;
      assert.ok(statuses.length > 5, `requests were sent during the shutdown (${statuses.length})`);
      assert.deepEqual(
        statuses.filter((s) => s !== 200),
        [],
        'no request failed',
      );
      assert.equal(await api.exited, 0, api.output().slice(-3000));
      const stopped = logLines(api).filter((l) => l.msg === 'stopped' && l.worker !== undefined && l.role === undefined);
      assert.equal(stopped.length, WORKERS, 'every worker drained and stopped');
    } finally {
      api.child.kill('SIGKILL');
      await cleanup();
    }
  });

  it('API_WORKERS is validated at start: exit 78 naming it', async () => {
    for (const [value, problem] of [
      ['0', /API_WORKERS: expected at least 1/],
      ['65', /API_WORKERS: expected at most 64/],
      ['two', /API_WORKERS: expected a number/],
    ] as const) {
      const api = spawnApi({ NODE_ENV: 'test', API_WORKERS: value });
      assert.equal(await api.exited, 78, api.output());
      assert.match(api.output(), problem);
    }
    const embedded = spawnApi({ NODE_ENV: 'test', API_WORKERS: '2' });
    assert.equal(await embedded.exited, 78);
    assert.match(embedded.output(), /API_WORKERS: 2 workers need DATABASE_URL/);
    assert.match(embedded.output(), /API_WORKERS: 2 workers need REDIS_URL/);
  });
});
