import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppMetrics, defineMetric, defineMetrics, METRICS, metricUnion } from '@obsnest/observability';
import { METRIC_DOCS, metricDocs, withMetricTable } from '../src/docs/metric-docs.js';
import { API_METRICS } from '../src/metrics.js';
import { type RunningApi, startApi } from './support/api.js';
import { parseExposition, sampleValue } from './support/scrape.js';

/** A metric the API does not have, defined only on the application side, as the README walk-through does. */
const MAIL_METRICS = defineMetrics({
  emailsSentTotal: defineMetric({
    name: 'emails_sent_total',
    type: 'counter',
    help: 'Emails handed to the mail transport, by transport.',
    labelNames: ['transport'],
    labelValues: { transport: ['smtp', 'dev'] },
  }),
  emailSendSeconds: defineMetric({
    name: 'email_send_seconds',
    type: 'histogram',
    help: 'Time the mail transport took to accept one email, in seconds.',
    labelNames: [],
    buckets: [0.05, 0.5, 5],
    unit: 'seconds',
  }),
});

describe('an application metric defined outside the library', () => {
  let api: RunningApi;

  before(async () => {
    api = await startApi('embedded', 'fastify', {}, [MAIL_METRICS]);
  });
  after(() => api?.close());

  it('reaches /metrics with exact values, in both exposition formats', async () => {
    const metrics = api.app.get(AppMetrics);
    const sent = metrics.handle(MAIL_METRICS.emailsSentTotal);
    sent.inc({ transport: 'dev' });
    sent.inc({ transport: 'dev' }, 2);
    for (const seconds of [0.01, 0.2, 0.3, 7]) metrics.handle(MAIL_METRICS.emailSendSeconds).observe(seconds);
    assert.throws(() => sent.inc({ transport: 'carrier-pigeon' }), /must be one of smtp, dev/);

    for (const accept of ['text/plain', 'application/openmetrics-text; version=1.0.0']) {
      const res = await fetch(`${api.url}/metrics`, { headers: { accept } });
      assert.equal(res.status, 200);
      const samples = parseExposition((await res.text()).replace(/# EOF\n$/, ''));
      assert.equal(sampleValue(samples, 'emails_sent_total', { transport: 'dev' }), 3, accept);
      assert.equal(sampleValue(samples, 'emails_sent_total', { transport: 'smtp' }), 0, `${accept}: declared at 0`);
      assert.equal(sampleValue(samples, 'email_send_seconds_count'), 4);
      assert.equal(sampleValue(samples, 'email_send_seconds_bucket', { le: '0.05' }), 1);
      assert.equal(sampleValue(samples, 'email_send_seconds_bucket', { le: '0.5' }), 3);
      assert.equal(sampleValue(samples, 'email_send_seconds_bucket', { le: '5' }), 3);
      assert.equal(sampleValue(samples, 'email_send_seconds_bucket', { le: '+Inf' }), 4);
      // The API's own and the library's families are still there.
      assert.ok(samples.some((s) => s.name === 'outbox_messages_pending'));
      assert.ok(samples.some((s) => s.name === METRICS.appBuildInfo.name));
    }
  });

  it('serves exactly the union of the contracts, besides prom-client runtime metrics', async () => {
    const text = await (await fetch(`${api.url}/metrics`)).text();
    const served = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
    const known = metricUnion(METRICS, API_METRICS, MAIL_METRICS);
    for (const def of known) assert.equal(served.get(def.name), def.type, `${def.name} served as a ${def.type}`);
    const unknown = [...served.keys()].filter((name) => !known.some((d) => d.name === name) && !/^(nodejs|process)_/.test(name));
    assert.deepEqual(unknown, [], 'every family is in a contract');
  });

  it('gives typed handles of the API contract', () => {
    const metrics = api.app.get(AppMetrics);
    const pending = metrics.handle(API_METRICS.outboxMessagesPending); // Gauge<'topic'>
    const sent = metrics.handle(MAIL_METRICS.emailsSentTotal); // Counter<'transport'>
    // @ts-expect-error `queue` is not a label of outbox_messages_pending
    assert.throws(() => pending.set({ queue: 'email' }, 1), /not included in initial labelset/);
    // @ts-expect-error a counter has no set()
    assert.throws(() => sent.set({ transport: 'dev' }, 1), TypeError);
    assert.equal(metrics.handle(API_METRICS.outboxMessagesPending), pending, 'registered once');
  });

  it('appears in the generated docs table once its contract is listed there', () => {
    const monitoring = metricDocs().find((d) => d.file === 'MONITORING.md');
    const contracts = METRIC_DOCS.find((d) => d.file === 'MONITORING.md')?.contracts ?? [];
    assert.ok(monitoring);
    assert.ok(!monitoring.committed.includes('emails_sent_total'), 'not in the committed table (it is a test contract)');
    const table = withMetricTable(monitoring.committed, [...contracts, MAIL_METRICS]);
    const row = table.split('\n').find((line) => line.startsWith('| `emails_sent_total` '));
    assert.ok(row, 'a row for the new metric');
    assert.match(row, /\| counter +\| Emails handed to the mail transport, by transport\. +\| `transport` \(smtp, dev\) +\|/);
    assert.match(
      table.split('\n').find((line) => line.startsWith('| `email_send_seconds` ')) ?? '',
      /histogram \(seconds\).*\| 0\.05, 0\.5, 5 +\|$/,
    );
  });
});
