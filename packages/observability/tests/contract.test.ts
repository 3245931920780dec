import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { Counter, Gauge, Histogram } from 'prom-client';
import {
  AppMetrics,
  defineMetric,
  defineMetrics,
  METRICS,
  type MetricDefinition,
  type MetricHandle,
  metricTableMarkdown,
  metricUnion,
  replaceMarkedSection,
} from '../src/index.js';
import { parseExposition, sampleValue, select } from './support/metrics.js';
import { TEST_APP_METRICS } from './support/test-contract.js';

/** True only when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const counter = (over: Partial<MetricDefinition> = {}): MetricDefinition => ({
  name: 'things_total',
  type: 'counter',
  help: 'Things.',
  labelNames: ['kind'],
  ...over,
});

describe('defineMetrics', () => {
  it('returns the contract unchanged when it is valid', () => {
    const contract = { things: counter() };
    assert.equal(defineMetrics(contract), contract);
  });

  it('refuses a definition Prometheus or prom-client would refuse, naming it', () => {
    const cases: [Partial<MetricDefinition>, RegExp][] = [
      [{ name: 'things-total' }, /things \(things-total\) is not a valid Prometheus metric name/],
      [{ name: 'things' }, /must end in _total if and only if it is a counter/],
      [{ type: 'gauge' }, /must end in _total if and only if it is a counter/],
      [{ help: ' ' }, /has no help text/],
      [{ labelNames: ['kind', 'kind'] }, /repeats a label name/],
      [{ labelNames: ['__kind'] }, /invalid label name "__kind"/],
      [{ labelValues: { state: ['a'] } }, /closed values for "state", which is not one of its labels/],
      [{ labelValues: { kind: [] } }, /empty closed value set/],
      [{ buckets: [1, 2] }, /buckets if and only if it is a histogram/],
      [{ name: 'things_seconds', type: 'histogram' }, /buckets if and only if it is a histogram/],
      [{ name: 'things_seconds', type: 'histogram', buckets: [1, 1] }, /strictly ascending/],
      [{ name: 'things_seconds', type: 'histogram', labelNames: ['le'], buckets: [1] }, /reserved label "le"/],
    ];
    for (const [over, message] of cases) assert.throws(() => defineMetrics({ things: counter(over) }), message, JSON.stringify(over));
  });

  it('refuses two keys with one name', () => {
    assert.throws(() => defineMetrics({ a: counter(), b: counter() }), /metrics a and b are both named things_total/);
  });
});

describe('the contract entry point', () => {
  it('is importable alone as @obsnest/observability/contract, and imports nothing itself', async () => {
    const contract = await import('@obsnest/observability/contract');
    assert.deepEqual(Object.keys(contract.METRICS), Object.keys(METRICS));
    const compiled = readFileSync(fileURLToPath(import.meta.resolve('@obsnest/observability/contract')), 'utf8');
    assert.doesNotMatch(compiled, /^\s*import\s|\brequire\(|\bimport\(/m, 'no prom-client, no Nest: bundlable alone');
  });
});

describe('metricUnion', () => {
  it('lists every definition of every contract once', () => {
    const union = metricUnion(METRICS, TEST_APP_METRICS);
    assert.equal(union.length, Object.keys(METRICS).length + Object.keys(TEST_APP_METRICS).length);
    assert.ok(union.includes(TEST_APP_METRICS.emailsSentTotal));
    assert.deepEqual(metricUnion(METRICS, METRICS), Object.values(METRICS), 'the same contract twice is the same metrics');
  });

  it('refuses an application metric that takes a library name', () => {
    const shadow = defineMetrics({ mine: { ...METRICS.httpRequestsTotal, help: 'Mine.' } });
    assert.throws(() => metricUnion(METRICS, shadow), /http_requests_total is defined by two contracts/);
    assert.throws(() => new AppMetrics({ appVersion: 't', defaultMetrics: false, metrics: [shadow] }), /defined by two contracts/);
  });
});

describe('AppMetrics.handle', () => {
  const metrics = () => new AppMetrics({ appVersion: 't', defaultMetrics: false, metrics: [TEST_APP_METRICS] });

  it('gives the typed prom-client object, registered once', async () => {
    const m = metrics();
    // Types: the handle's type follows the definition's; a wrong label name does not compile.
    const sent: Counter<'transport'> = m.handle(TEST_APP_METRICS.emailsSentTotal);
    const backlog: Gauge<'topic'> = m.handle(TEST_APP_METRICS.backlogMessages);
    const batch: Histogram<'kind'> = m.handle(TEST_APP_METRICS.batchDurationSeconds);
    // @ts-expect-error `topic` is not a label of test_emails_sent_total
    assert.throws(() => sent.inc({ topic: 'x' }), /Added label "topic" is not included in initial labelset/);
    assert.equal(m.handle(TEST_APP_METRICS.emailsSentTotal), sent, 'the same object every time');
    assert.equal(m.registry.getSingleMetric('test_emails_sent_total'), sent, 'in the registry under its name');

    sent.inc({ transport: 'smtp' });
    sent.labels('smtp').inc(2);
    backlog.set({ topic: 'a' }, 4);
    batch.observe({ kind: 'import' }, 0.05);
    const e = parseExposition(await m.render());
    assert.equal(sampleValue(e, 'test_emails_sent_total', { transport: 'smtp' }), 3);
    assert.equal(sampleValue(e, 'test_backlog_messages', { topic: 'a' }), 4);
    assert.equal(sampleValue(e, 'test_batch_duration_seconds_bucket', { kind: 'import', le: '0.1' }), 1);
  });

  it('types handles of a contract written as plain objects, without defineMetric', () => {
    const plain = defineMetrics({
      jobs: { name: 'plain_jobs_total', type: 'counter', help: 'Jobs.', labelNames: ['kind'] },
      depth: { name: 'plain_depth', type: 'gauge', help: 'Depth.', labelNames: [] },
    });
    const m = new AppMetrics({ appVersion: 't', defaultMetrics: false, metrics: [plain] });
    const jobs = m.handle(plain.jobs);
    const depth = m.handle(plain.depth);
    // Compile-time equalities: a wrong inference is a type error here.
    const exact: [Equal<typeof jobs, Counter<'kind'>>, Equal<typeof depth, Gauge<never>>] = [true, true];
    const api: Equal<MetricHandle<typeof TEST_APP_METRICS.backlogMessages>, Gauge<'topic'>> = true;
    assert.deepEqual([...exact, api], [true, true, true]);
    jobs.inc({ kind: 'a' });
    depth.set(3);
  });

  it('creates the series of closed label sets at 0 (counters and histograms), not gauges', async () => {
    const e = parseExposition(await metrics().render());
    assert.deepEqual(
      select(e, 'test_emails_sent_total').map((s) => `${s.labels.transport}=${s.value}`),
      ['smtp=0', 'dev=0'],
    );
    assert.deepEqual(
      select(e, 'test_batch_duration_seconds_count').map((s) => `${s.labels.kind}=${s.value}`),
      ['import=0', 'export=0'],
    );
    assert.deepEqual(select(e, 'test_backlog_messages'), []);
  });

  it('refuses a value outside a closed set, whichever method is used', () => {
    const m = metrics();
    const sent = m.handle(TEST_APP_METRICS.emailsSentTotal);
    const batch = m.handle(TEST_APP_METRICS.batchDurationSeconds);
    const message = /label transport of test_emails_sent_total must be one of smtp, dev: got "sms"/;
    assert.throws(() => sent.inc({ transport: 'sms' }), message);
    assert.throws(() => sent.labels('sms'), message);
    assert.throws(() => sent.labels({ transport: 'sms' }), message);
    assert.throws(() => batch.observe({ kind: 'delete' }, 1), /label kind of test_batch_duration_seconds must be one of import, export/);
    assert.throws(() => batch.startTimer({ kind: 'delete' }), /must be one of import, export/);
    assert.throws(() => m.handle(METRICS.queueJobs).set({ queue: 'q', state: 'stuck' }, 1), /label state of queue_jobs must be one of/);
    m.handle(METRICS.queueJobs).set({ queue: 'any-queue', state: 'waiting' }, 1);
  });

  it('refuses a definition no registered contract has, or one that differs from the registered one', () => {
    const m = new AppMetrics({ appVersion: 't', defaultMetrics: false });
    assert.throws(() => m.handle(TEST_APP_METRICS.emailsSentTotal), /test_emails_sent_total is in no registered contract/);
    assert.throws(() => m.handle(METRICS.httpRequestsTotal), /recorded by the HTTP instrumentation/);
    const other = defineMetric({ ...METRICS.queueJobsCompletedTotal, help: 'Something else.' });
    assert.throws(() => m.handle(other), /differs from the definition registered/);
  });
});

describe('metricTableMarkdown', () => {
  it('writes one row per definition: name, type (unit), help, labels with closed values, buckets', () => {
    const table = metricTableMarkdown([
      TEST_APP_METRICS.emailsSentTotal,
      TEST_APP_METRICS.batchDurationSeconds,
      defineMetric({ name: 'pipes', type: 'gauge', help: 'A | B.', labelNames: [] }),
    ]).split('\n');
    assert.equal(table.length, 5);
    assert.match(table[0], /^\| Name +\| Type +\| Help +\| Labels \(closed values\) +\| Buckets +\|$/);
    assert.match(table[1], /^\| -+ \| -+ \| -+ \| -+ \| -+ \|$/);
    assert.match(
      table[2],
      /^\| `test_emails_sent_total` +\| counter +\| Emails handed to a transport, by transport\. +\| `transport` \(smtp, dev\) +\| +\|$/,
    );
    assert.match(
      table[3],
      /^\| `test_batch_duration_seconds` \| histogram \(seconds\) \| .* \| `kind` \(import, export\) +\| 0\.1, 1, 10 \|$/,
    );
    assert.match(table[4], /\| A \\\| B\. +\| none +\|/, 'a pipe in a help text is escaped');
    assert.equal(new Set(table.map((line) => line.length)).size, 1, 'padded columns');
  });

  it('replaces only what is between the markers, and refuses a document without them', () => {
    const doc = 'before\n<!-- t:begin note -->\nold\n<!-- t:end -->\nafter\n';
    assert.equal(replaceMarkedSection(doc, 't', 'new'), 'before\n<!-- t:begin note -->\n\nnew\n\n<!-- t:end -->\nafter\n');
    assert.throws(() => replaceMarkedSection('no markers', 't', 'x'), /no <!-- t:begin -->/);
    assert.throws(() => replaceMarkedSection('<!-- t:end -->\n<!-- t:begin -->\n', 't', 'x'), /markers/);
  });
});
