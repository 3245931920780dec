import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';
import {
  AppMetrics,
  aggregateMetrics,
  ClusterMetricsAggregator,
  defineMetric,
  defineMetrics,
  HTTP_DURATION_BUCKETS,
  type MetricFamilyJson,
  renderMetrics,
} from '../src/index.js';
import { parseExposition, parseOpenMetrics, promtoolCheckMetrics, sampleSet, sampleValue, select } from './support/metrics.js';

const snapshot = async (m: AppMetrics) => (await m.registry.getMetricsAsJSON()) as unknown as MetricFamilyJson[];

/**
 * "Workers": registries of their own, as each process of a cluster has, old enough for prom-client's
 * event-loop monitor to have a reading (a fresh one reports NaN).
 */
async function workers(count: number, shared = false): Promise<AppMetrics[]> {
  const all = Array.from({ length: count }, (_, i) => {
    const m = new AppMetrics({ appVersion: '1.2.3', defaultMetrics: true });
    m.setQueueDepthSource('email', () => ({ waiting: shared ? 7 : i + 1, active: 0, delayed: 0 }), { shared });
    m.setDbPoolSource(() => ({ active: 1, idle: i, pending: 0, max: 10 }));
    return m;
  });
  await sleep(100);
  return all;
}

describe('cluster aggregation of metrics (prom-client AggregatorRegistry)', () => {
  it('sums the HTTP families per series and per bucket, and every other counter and histogram', async () => {
    const [a, b, c] = await workers(3);
    // Durations that land in different buckets, one above the highest bound (+Inf only).
    a.observeHttpRequest('GET', '/users/:id', 200, 0.003);
    a.observeHttpRequest('GET', '/users/:id', 200, 0.2);
    b.observeHttpRequest('GET', '/users/:id', 200, 0.04);
    b.observeHttpRequest('POST', '/users', 201, 12);
    c.observeHttpRequest('GET', '/users/:id', 200, 0.7);
    c.observeHttpRequest('GET', '/users/:id', 404, 0.001);
    a.jobCompleted('email');
    c.jobCompleted('email');
    b.jobAttemptFinished('email', 0.3);
    a.websocketConnected('/');
    b.websocketConnected('/');

    const merged = await aggregateMetrics(await Promise.all([a, b, c].map(snapshot)));
    const e = parseExposition(await renderMetrics(merged));
    const get = { method: 'GET', route: '/users/:id', status_code: '200' };
    assert.equal(sampleValue(e, 'http_requests_total', get), 4);
    assert.equal(sampleValue(e, 'http_requests_total', { method: 'POST', route: '/users', status_code: '201' }), 1);
    assert.equal(sampleValue(e, 'http_requests_total', { ...get, status_code: '404' }), 1);
    // Cumulative buckets of 0.003, 0.2, 0.04, 0.7 (one per worker file above), summed across workers.
    const expected: Record<string, number> = { '0.005': 1, '0.01': 1, '0.025': 1, '0.05': 2, '0.1': 2, '0.25': 3, '0.5': 3, '1': 4 };
    for (const le of HTTP_DURATION_BUCKETS) {
      assert.equal(
        sampleValue(e, 'http_request_duration_seconds_bucket', { ...get, le: String(le) }),
        expected[String(le)] ?? 4,
        `le=${le}`,
      );
    }
    assert.equal(sampleValue(e, 'http_request_duration_seconds_bucket', { ...get, le: '+Inf' }), 4);
    assert.equal(sampleValue(e, 'http_request_duration_seconds_count', get), 4);
    assert.ok(Math.abs(sampleValue(e, 'http_request_duration_seconds_sum', get) - 0.943) < 1e-9);
    const post = { method: 'POST', route: '/users', status_code: '201' };
    assert.equal(sampleValue(e, 'http_request_duration_seconds_bucket', { ...post, le: '10' }), 0);
    assert.equal(sampleValue(e, 'http_request_duration_seconds_bucket', { ...post, le: '+Inf' }), 1);
    assert.equal(sampleValue(e, 'queue_jobs_completed_total', { queue: 'email' }), 2);
    assert.equal(sampleValue(e, 'queue_job_duration_seconds_count', { queue: 'email' }), 1);
    assert.equal(sampleValue(e, 'websocket_connections', { namespace: '/' }), 2);
    assert.equal(sampleValue(e, 'websocket_connections_opened_total', { namespace: '/' }), 2);

    const check = await promtoolCheckMetrics(await renderMetrics(merged));
    assert.equal(check.code, 0, check.output);
  });

  it('does not add up what every worker reads the same: build info, heap limit, start time, a shared queue', async () => {
    const [a, b, c] = await workers(3, true);
    const e = parseExposition(await renderMetrics(await aggregateMetrics(await Promise.all([a, b, c].map(snapshot)))));
    assert.equal(sampleValue(e, 'app_build_info', { version: '1.2.3' }), 1);
    assert.equal(sampleValue(e, 'nodejs_heap_size_limit_bytes'), getHeapStatistics().heap_size_limit);
    assert.equal(select(e, 'nodejs_version_info').length, 1);
    assert.equal(select(e, 'nodejs_version_info')[0].value, 1);
    // The latest start of any worker (prom-client itself would omit it): `changes()` sees restarts.
    const start = sampleValue(e, 'process_start_time_seconds');
    assert.ok(start > 1e9 && start < Date.now() / 1000 + 1, String(start));
    assert.equal(sampleValue(e, 'queue_jobs', { queue: 'email', state: 'waiting' }), 7);
    // Per-process pools add up: the instance holds three of them.
    assert.equal(sampleValue(e, 'db_pool_max_connections'), 30);
    assert.equal(sampleValue(e, 'db_pool_connections', { state: 'idle' }), 0 + 1 + 2);
    // The fullest worker's heap, against the same per-process limit: the ratio the OOM alert reads.
    assert.ok(sampleValue(e, 'nodejs_heap_size_used_bytes') < getHeapStatistics().heap_size_limit);
    assert.ok(sampleValue(e, 'process_cpu_seconds_total') > 0);
  });

  it('sums an in-process queue, which each worker has of its own', async () => {
    const e = parseExposition(await renderMetrics(await aggregateMetrics(await Promise.all((await workers(3)).map(snapshot)))));
    assert.equal(sampleValue(e, 'queue_jobs', { queue: 'email', state: 'waiting' }), 1 + 2 + 3);
  });

  it('renders OpenMetrics: counters named once without _total per family, # EOF, the same samples as the text format', async () => {
    const [a, b] = await workers(2);
    a.observeHttpRequest('GET', '/x', 200, 0.01);
    b.observeHttpRequest('GET', '/x', 200, 0.02);
    const merged = await aggregateMetrics([await snapshot(a), await snapshot(b)]);
    const om = parseOpenMetrics(await renderMetrics(merged, 'openmetrics'));
    assert.equal(om.types.get('http_requests'), 'counter');
    assert.equal(sampleValue(om, 'http_requests_total', { route: '/x' }), 2);
    const text = parseExposition(await renderMetrics(merged, 'text'));
    assert.deepEqual(sampleSet(om), sampleSet(text));
  });

  it("an application's gauge declares its aggregation; a counter may not aggregate otherwise than by sum", async () => {
    const contract = defineMetrics({
      featureFlags: defineMetric({
        name: 'feature_flags_loaded',
        type: 'gauge',
        help: 'Flags loaded from the shared store.',
        labelNames: [],
        aggregation: 'max',
      }),
    });
    const ms = [0, 1, 2].map(() => new AppMetrics({ appVersion: 't', defaultMetrics: false, metrics: [contract] }));
    for (const m of ms) m.handle(contract.featureFlags).set(40);
    const e = parseExposition(await renderMetrics(await aggregateMetrics(await Promise.all(ms.map(snapshot)))));
    assert.equal(sampleValue(e, 'feature_flags_loaded'), 40);
    assert.throws(
      () => defineMetrics({ c: defineMetric({ name: 'c_total', type: 'counter', help: 'h', labelNames: [], aggregation: 'max' }) }),
      /only a gauge may aggregate otherwise/,
    );
  });

  it('keeps counters and histograms monotonic when a worker leaves or dies, and drops its gauges', async () => {
    const [a, b] = await workers(2);
    const aggregator = new ClusterMetricsAggregator();
    const total = async (live: AppMetrics[]) => {
      // prom-client resets its event-loop monitor at each collection: let it read again.
      await sleep(60);
      return parseExposition(await renderMetrics(await aggregator.aggregate(await Promise.all(live.map(snapshot)))));
    };
    for (let i = 0; i < 5; i++) a.observeHttpRequest('GET', '/x', 200, 0.01);
    for (let i = 0; i < 3; i++) b.observeHttpRequest('GET', '/x', 200, 0.01);
    a.websocketConnected('/');
    b.websocketConnected('/');
    let e = await total([a, b]);
    assert.equal(sampleValue(e, 'http_requests_total', { route: '/x' }), 8);
    assert.equal(sampleValue(e, 'websocket_connections', { namespace: '/' }), 2);

    // b dies after 2 more requests that no collection saw: the primary retires its last known values
    // (3), so the 2 are lost, as in a single process that crashes between scrapes, and the total stays 8.
    b.observeHttpRequest('GET', '/x', 200, 0.01);
    b.observeHttpRequest('GET', '/x', 200, 0.01);
    await aggregator.retire(
      (await snapshot(b)).map((m) => (m.name === 'http_requests_total' ? { ...m, values: m.values.map((v) => ({ ...v, value: 3 })) } : m)),
    );
    e = await total([a]);
    assert.equal(sampleValue(e, 'http_requests_total', { route: '/x' }), 8);
    assert.equal(sampleValue(e, 'websocket_connections', { namespace: '/' }), 1, "a dead worker's gauges go with it");
    a.observeHttpRequest('GET', '/x', 200, 0.01);
    e = await total([a]);
    assert.equal(sampleValue(e, 'http_requests_total', { route: '/x' }), 9);

    // Retired values older than what was served (a collection the scrape used, then a crash before
    // the primary recorded it): the served values are held, never a drop Prometheus reads as a reset.
    const aggregatorWithLoss = new ClusterMetricsAggregator();
    const [c] = await workers(1);
    c.observeHttpRequest('GET', '/y', 200, 0.01);
    c.observeHttpRequest('GET', '/y', 200, 0.01);
    await aggregatorWithLoss.aggregate([await snapshot(c)]);
    await aggregatorWithLoss.retire((await snapshot(c)).map((m) => ({ ...m, values: m.values.map((v) => ({ ...v, value: 1 })) })));
    const held = parseExposition(await renderMetrics(await aggregatorWithLoss.aggregate([])));
    assert.equal(sampleValue(held, 'http_requests_total', { route: '/y' }), 2, 'never below what was served');
    assert.equal(sampleValue(held, 'http_request_duration_seconds_bucket', { route: '/y', le: '+Inf' }), 2);
  });
});
