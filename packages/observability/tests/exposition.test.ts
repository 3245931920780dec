import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getHeapStatistics } from 'node:v8';
import {
  AppMetrics,
  DB_POOL_STATES,
  METRICS,
  metricUnion,
  NODE_RUNTIME_METRICS,
  OTHER_HTTP_METHOD,
  QUEUE_STATES,
  type QueueDepth,
} from '../src/index.js';
import { ADAPTERS, withApp } from './support/app.js';
import { ItemsController } from './support/controllers.js';
import { TEST_APP_METRICS } from './support/test-contract.js';
import {
  type Exposition,
  parseExposition,
  promtoolCheckMetrics,
  rawRequest,
  scrape,
  scrapeText,
  select,
  sampleValue,
  waitFor,
} from './support/metrics.js';

/** Puts at least one sample on every metric of the contract, through the public hooks and real HTTP traffic. */
async function trafficOnEveryMetric(url: string, metrics: AppMetrics): Promise<void> {
  assert.equal((await fetch(`${url}/items/1`)).status, 200);
  assert.equal((await fetch(`${url}/boom`)).status, 500);
  assert.equal((await fetch(`${url}/does/not/exist`)).status, 404);
  assert.equal((await rawRequest('PROPFIND', `${url}/any`)).status, 200);
  metrics.declareWebsocketNamespace('/chat');
  metrics.websocketConnected('/');
  metrics.websocketMessageReceived('/');
  metrics.setQueueDepthSource('email', () => ({ waiting: 2, active: 1, delayed: 0 }));
  metrics.jobAttemptFinished('email', 0.2);
  metrics.jobCompleted('email');
  metrics.jobFailed('email');
  metrics.setDbPoolSource(() => ({ active: 1, idle: 4, pending: 0, max: 5 }));
  metrics.handle(TEST_APP_METRICS.emailsSentTotal).inc({ transport: 'smtp' });
  metrics.collectAtScrape(TEST_APP_METRICS.backlogMessages, (gauge) => gauge.set({ topic: 'email' }, 0));
  metrics.handle(TEST_APP_METRICS.batchDurationSeconds).observe({ kind: 'import' }, 0.5);
}

/** What this test application serves: the library's families and its own. */
const KNOWN_METRICS = metricUnion(METRICS, TEST_APP_METRICS);
const withAppContract = { metrics: [TEST_APP_METRICS] };

/** `# TYPE` names of a histogram's series. */
const seriesNames = (name: string, type: string) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name]);

function assertFollowsContract(exposition: Exposition): void {
  for (const def of KNOWN_METRICS) {
    assert.equal(exposition.types.get(def.name), def.type, `# TYPE of ${def.name}`);
    assert.equal(exposition.help.get(def.name), def.help, `# HELP of ${def.name}`);
    const samples = seriesNames(def.name, def.type).flatMap((n) => select(exposition, n));
    assert.ok(samples.length > 0, `${def.name} has samples`);
    for (const sample of samples) {
      const names = Object.keys(sample.labels).filter((l) => !(sample.name.endsWith('_bucket') && l === 'le'));
      assert.deepEqual(names.sort(), [...def.labelNames].sort(), `labels of ${sample.name}`);
    }
    if (def.type === 'histogram') {
      const first = select(exposition, `${def.name}_count`)[0];
      const les = select(exposition, `${def.name}_bucket`, first.labels).map((s) => s.labels.le);
      assert.deepEqual(les, [...(def.buckets ?? []).map(String), '+Inf'], `buckets of ${def.name}`);
    }
  }
}

describe('the metric contract', () => {
  it('has unique names, snake_case, counters ending in _total and only counters', () => {
    const names = KNOWN_METRICS.map((d) => d.name);
    assert.equal(new Set(names).size, names.length);
    for (const def of KNOWN_METRICS) {
      assert.match(def.name, /^[a-z][a-z0-9_]*$/);
      assert.equal(def.name.endsWith('_total'), def.type === 'counter', def.name);
      assert.ok(def.help.length > 10, `${def.name} has a help text`);
      assert.equal(def.buckets !== undefined, def.type === 'histogram', `${def.name}: buckets only on histograms`);
      if (def.buckets)
        assert.deepEqual(
          [...def.buckets],
          [...def.buckets].sort((a, b) => a - b),
          'ascending buckets',
        );
    }
  });

  it('folds methods with AppMetrics.methodLabel', () => {
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) assert.equal(AppMetrics.methodLabel(m), m);
    for (const m of ['PROPFIND', 'PURGE', 'get', 'TRACE', 'CONNECT', '', undefined])
      assert.equal(AppMetrics.methodLabel(m), OTHER_HTTP_METHOD);
  });
});

for (const adapter of ADAPTERS) {
  describe(`exposition (${adapter})`, () => {
    it('declares every contract metric with its type, help, labels and buckets', () =>
      withApp(
        adapter,
        { controllers: [ItemsController], observability: { defaultMetrics: undefined, ...withAppContract } },
        async ({ url, app }) => {
          await trafficOnEveryMetric(url, app.get(AppMetrics));
          const exposition = await waitFor('HTTP series', async () => {
            const e = await scrape(url);
            return select(e, 'http_requests_total').length === 4 ? e : undefined;
          });
          assertFollowsContract(exposition);
          assert.equal(sampleValue(exposition, 'nodejs_heap_size_limit_bytes'), getHeapStatistics().heap_size_limit);
          assert.equal(sampleValue(exposition, 'app_build_info', { version: 'test', node_version: process.version }), 1);
          // The runtime metrics the dashboards rely on are registered by default (defaultMetrics unset).
          for (const name of Object.values(NODE_RUNTIME_METRICS)) assert.ok(exposition.types.has(name), `${name} is exposed`);
        },
      ));

    it('passes `promtool check metrics` with no output, after traffic on every metric', () =>
      withApp(
        adapter,
        { controllers: [ItemsController], observability: { defaultMetrics: true, ...withAppContract } },
        async ({ url, app }) => {
          await trafficOnEveryMetric(url, app.get(AppMetrics));
          const text = await waitFor('HTTP series', async () => {
            const body = await scrapeText(url);
            return select(parseExposition(body), 'http_requests_total').length === 4 ? body : undefined;
          });
          const result = await promtoolCheckMetrics(text);
          assert.equal(result.output, '', 'promtool has nothing to say');
          assert.equal(result.code, 0);
        },
      ));

    it('reads an application gauge at scrape time; a failing or hanging collector leaves only its own series out', () =>
      withApp(adapter, { observability: withAppContract }, async ({ url, app }) => {
        const metrics = app.get(AppMetrics);
        let email = 12;
        metrics.collectAtScrape(TEST_APP_METRICS.backlogMessages, async (gauge) => gauge.set({ topic: 'email' }, email));
        metrics.collectAtScrape(TEST_APP_METRICS.backlogMessages, () => Promise.reject(new Error('database is down')));
        metrics.collectAtScrape(TEST_APP_METRICS.backlogMessages, () => new Promise(() => {}));
        const backlog = (e: Exposition) => select(e, 'test_backlog_messages').map((s) => `${s.labels.topic}=${s.value}`);
        const started = performance.now();
        assert.deepEqual(backlog(await scrape(url)), ['email=12']);
        assert.ok(performance.now() - started < 1500, 'a hanging collector does not hold the scrape');
        email = 0;
        assert.deepEqual(backlog(await scrape(url)), ['email=0'], 'read again on the next scrape');
      }));

    it('reads the queue depth and DB pool sources at scrape time', () =>
      withApp(adapter, {}, async ({ url, app }) => {
        const metrics = app.get(AppMetrics);
        let email: QueueDepth = { waiting: 4, active: 1, delayed: 2 };
        let pool = { active: 3, idle: 7, pending: 2, max: 10 };
        metrics.setQueueDepthSource('email', () => email);
        metrics.setQueueDepthSource('reports', async () => ({ waiting: 9, active: 0, delayed: 5 }));
        metrics.setDbPoolSource(() => pool);

        const depth = (e: Exposition, queue: string) =>
          Object.fromEntries(QUEUE_STATES.map((state) => [state, sampleValue(e, 'queue_jobs', { queue, state })]));
        const db = (e: Exposition) => ({
          ...Object.fromEntries(DB_POOL_STATES.map((state) => [state, sampleValue(e, 'db_pool_connections', { state })])),
          pending: sampleValue(e, 'db_pool_pending_requests'),
          max: sampleValue(e, 'db_pool_max_connections'),
        });

        let e = await scrape(url);
        assert.deepEqual(depth(e, 'email'), email);
        assert.deepEqual(depth(e, 'reports'), { waiting: 9, active: 0, delayed: 5 });
        assert.deepEqual(db(e), pool);
        assert.equal(sampleValue(e, 'queue_jobs_completed_total', { queue: 'email' }), 0, 'declared at 0');
        assert.equal(sampleValue(e, 'queue_jobs_failed_total', { queue: 'reports' }), 0);

        email = { waiting: 0, active: 3, delayed: 1 };
        pool = { active: 10, idle: 0, pending: 6, max: 10 };
        e = await scrape(url);
        assert.deepEqual(depth(e, 'email'), email, 'read again on the next scrape');
        assert.deepEqual(db(e), pool);
      }));

    it('serves the scrape within 1.5 s when a queue depth source throws, rejects or hangs', () =>
      withApp(adapter, { controllers: [ItemsController] }, async ({ url, app }) => {
        const metrics = app.get(AppMetrics);
        metrics.setQueueDepthSource('healthy', () => ({ waiting: 1, active: 2, delayed: 3 }));
        metrics.setQueueDepthSource('throws', () => {
          throw new Error('redis is down');
        });
        metrics.setQueueDepthSource('rejects', () => Promise.reject(new Error('ECONNREFUSED')));
        metrics.setQueueDepthSource('hangs', () => new Promise<QueueDepth>(() => {}));
        metrics.setDbPoolSource(() => ({ active: 1, idle: 1, pending: 0, max: 2 }));
        assert.equal((await fetch(`${url}/items/1`)).status, 200);

        for (let round = 0; round < 2; round++) {
          const started = performance.now();
          // A scrape that hangs fails here instead of hanging the test.
          const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(3000) });
          const ms = performance.now() - started;
          assert.equal(res.status, 200);
          assert.ok(ms < 1500, `scrape took ${Math.round(ms)} ms`);
          const e = parseExposition(await res.text());
          assert.deepEqual(
            select(e, 'queue_jobs').map((s) => `${s.labels.queue}/${s.labels.state}=${s.value}`),
            ['healthy/waiting=1', 'healthy/active=2', 'healthy/delayed=3'],
            'the failing queues are absent for this scrape, the healthy one is there',
          );
          for (const queue of ['healthy', 'throws', 'rejects', 'hangs']) {
            assert.equal(sampleValue(e, 'queue_jobs_completed_total', { queue }), 0);
          }
          assert.equal(sampleValue(e, 'db_pool_max_connections'), 2);
          assert.equal(sampleValue(e, 'http_requests_total', { method: 'GET', route: '/items/:id', status_code: '200' }), 1);
        }
      }));
  });
}

describe('promtool', () => {
  it('does complain about a broken exposition (the check above can fail)', async () => {
    const result = await promtoolCheckMetrics('# HELP jobs_total Jobs.\n# TYPE jobs_total gauge\njobs_total 1\n');
    assert.notEqual(result.code, 0);
    assert.match(result.output, /non-counter metrics should not have "_total" suffix/);
  });

  it('has nothing to say about the metrics of the contract', async () => {
    const metrics = new AppMetrics({ appVersion: '1.2.3', defaultMetrics: false });
    metrics.observeHttpRequest('GET', '/x', 200, 0.01);
    const result = await promtoolCheckMetrics(await metrics.render());
    assert.deepEqual(result, { code: 0, output: '' });
    assert.ok(METRICS.httpRequestsTotal.name.length > 0);
  });
});
