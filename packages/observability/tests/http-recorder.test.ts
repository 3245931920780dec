import { seededRandom } from '@obsnest/testkit';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry, type RegistryContentType } from 'prom-client';
import { AppMetrics, METRICS } from '../src/index.js';

const rng = seededRandom;

interface Observation {
  method: string;
  route: string;
  status: number;
  seconds: number;
}

const ROUTES = ['/users', '/users/:id', 'UNMATCHED', '/a\\b', '/quote"d', '/new\nline', '/ünïcødé/:x'];

function observations(n: number, seed: number): Observation[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  return Array.from({ length: n }, () => ({
    method: pick(['GET', 'POST', 'DELETE', 'OTHER']),
    route: pick(ROUTES),
    status: pick([200, 201, 204, 400, 404, 413, 499, 500, 503]),
    // every bucket, exact bucket bounds (le is inclusive) and beyond the last one
    seconds: pick([0, 0.005, 0.01, 0.25, 10, 11, r() * 0.05, r() * 3, r() * 20]),
  }));
}

/** What prom-client itself renders for the same observations: the reference the recorder must match. */
async function promClientReference(
  obs: readonly Observation[],
  defaultLabels?: Record<string, string>,
  openMetrics = false,
): Promise<string> {
  const registry = new Registry<RegistryContentType>();
  if (openMetrics) registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  if (defaultLabels) registry.setDefaultLabels(defaultLabels);
  const { httpRequestsTotal: c, httpRequestDurationSeconds: h } = METRICS;
  const counter = new Counter({ name: c.name, help: c.help, labelNames: c.labelNames, registers: [registry] });
  const histogram = new Histogram({
    name: h.name,
    help: h.help,
    labelNames: h.labelNames,
    buckets: [...(h.buckets ?? [])],
    registers: [registry],
  });
  for (const o of obs) {
    const labels = { method: o.method, route: o.route, status_code: String(o.status) };
    counter.inc(labels);
    histogram.observe(labels, o.seconds);
  }
  return registry.metrics();
}

async function ours(obs: readonly Observation[], defaultLabels?: Record<string, string>): Promise<{ text: string; metrics: AppMetrics }> {
  const metrics = new AppMetrics({ appVersion: 't', defaultMetrics: false, defaultLabels });
  for (const o of obs) metrics.observeHttpRequest(o.method, o.route, o.status, o.seconds);
  return { text: await metrics.render(), metrics };
}

/** The two HTTP families out of a whole exposition, in order. */
function httpFamilies(text: string): string {
  return text
    .split('\n\n')
    .filter(
      (block) =>
        block.startsWith(`# HELP ${METRICS.httpRequestsTotal.name} `) ||
        block.startsWith(`# HELP ${METRICS.httpRequestDurationSeconds.name} `),
    )
    .map((block) => block.trim())
    .join('\n\n');
}

/** The HTTP families' lines of an OpenMetrics exposition (families are not separated by blank lines there). */
const httpLines = (text: string) =>
  text
    .split('\n')
    .filter((line) => /^(# (HELP|TYPE) )?http_request/.test(line))
    .join('\n');

/** Equal texts, or a failure that names the first differing line instead of dumping megabytes. */
function assertSameText(actual: string, expected: string): void {
  const a = actual.split('\n');
  const e = expected.split('\n');
  const i = a.findIndex((line, k) => line !== e[k]);
  const at = i === -1 && a.length !== e.length ? Math.min(a.length, e.length) : i;
  assert.equal(at, -1, `line ${at}: ${JSON.stringify(a[at])} but prom-client renders ${JSON.stringify(e[at])}`);
}

describe('HTTP recorder', () => {
  for (const seed of [1, 2, 3]) {
    it(`renders byte for byte what prom-client renders for the same 5000 observations (seed ${seed})`, async () => {
      const obs = observations(5000, seed);
      const expected = await promClientReference(obs);
      const { text } = await ours(obs);
      assert.ok(expected.includes('route="/new\\nline"'), 'the reference escapes label values');
      assertSameText(httpFamilies(text), expected.trim());
    });
  }

  it('appends the registry default labels as prom-client does', async () => {
    const obs = observations(500, 9);
    const defaults = { service: 'api', zone: 'a"b' };
    const expected = await promClientReference(obs, defaults);
    const { text } = await ours(obs, defaults);
    assert.ok(expected.includes(',service="api",zone="a\\"b"}'));
    assertSameText(httpFamilies(text), expected.trim());
  });

  it('renders in OpenMetrics byte for byte what prom-client renders in OpenMetrics, default labels included', async () => {
    const obs = observations(3000, 5);
    const defaults = { service: 'api' };
    const expected = await promClientReference(obs, defaults, true);
    const metrics = new AppMetrics({ appVersion: 't', defaultMetrics: false, defaultLabels: defaults });
    for (const o of obs) metrics.observeHttpRequest(o.method, o.route, o.status, o.seconds);
    const text = await metrics.render('openmetrics');
    assert.match(expected, /^# TYPE http_requests counter$/m, 'the reference names the counter family without _total');
    assert.ok(text.endsWith('\n# EOF\n'));
    assertSameText(httpLines(text), httpLines(expected));
  });

  it('keeps the families registered in prom-client: JSON, single-metric lookup and reset work', async () => {
    const obs = observations(200, 4);
    const { metrics } = await ours(obs);
    const json = await metrics.registry.getMetricsAsJSON();
    const counter = json.find((m) => m.name === METRICS.httpRequestsTotal.name);
    assert.ok(counter);
    assert.equal(
      counter.values.reduce((sum, v) => sum + v.value, 0),
      obs.length,
    );
    const histogram = json.find((m) => m.name === METRICS.httpRequestDurationSeconds.name);
    const counts = histogram?.values.filter((v) => (v as { metricName?: string }).metricName?.endsWith('_count')) ?? [];
    assert.equal(
      counts.reduce((sum, v) => sum + v.value, 0),
      obs.length,
    );
    assert.ok(metrics.registry.getSingleMetric(METRICS.httpRequestsTotal.name));
    metrics.registry.resetMetrics();
    assert.equal(metrics.httpSeriesCount, 0);
    assert.doesNotMatch(await metrics.render(), /^http_requests_total\{/m);
  });

  it('counts label sets, not requests', async () => {
    const { metrics } = await ours([
      { method: 'GET', route: '/a', status: 200, seconds: 0.1 },
      { method: 'GET', route: '/a', status: 200, seconds: 0.2 },
      { method: 'GET', route: '/a', status: 404, seconds: 0.1 },
      { method: 'POST', route: '/a', status: 200, seconds: 0.1 },
    ]);
    assert.equal(metrics.httpSeriesCount, 3);
  });
});
