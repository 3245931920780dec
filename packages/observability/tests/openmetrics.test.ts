import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppMetrics, negotiateExpositionFormat } from '../src/index.js';
import { ADAPTERS, withApp } from './support/app.js';
import { ItemsController } from './support/controllers.js';
import { parseExposition, parseOpenMetrics, promtoolCheckMetrics, sampleSet, sampleValue, scrapeAs, waitFor } from './support/metrics.js';
import { freePort } from './support/ports.js';
import { TEST_APP_METRICS } from './support/test-contract.js';

/** What Prometheus 2.42 (the one installed here) sends when it scrapes. */
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const OPENMETRICS_ACCEPT = 'application/openmetrics-text; version=1.0.0';
const OPENMETRICS_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const TEXT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

describe('negotiateExpositionFormat', () => {
  it('answers OpenMetrics when the scraper prefers it', () => {
    for (const accept of [
      PROMETHEUS_ACCEPT,
      OPENMETRICS_ACCEPT,
      'application/openmetrics-text',
      'Application/OpenMetrics-Text; Version=1.0.0',
      'text/plain;q=0.5, application/openmetrics-text;version=1.0.0;q=0.9',
    ]) {
      assert.equal(negotiateExpositionFormat(accept), 'openmetrics', accept);
    }
  });

  it('answers the text format otherwise', () => {
    for (const accept of [
      undefined,
      '',
      '*/*',
      'text/plain',
      'text/plain;version=0.0.4',
      'application/json',
      // a version prom-client does not write
      'application/openmetrics-text;version=0.0.1',
      'application/openmetrics-text;version=1.0.0;q=0.4, text/plain;q=0.5',
      'application/openmetrics-text;q=0',
    ]) {
      assert.equal(negotiateExpositionFormat(accept), 'text', String(accept));
    }
  });
});

/** Traffic with a known outcome on the HTTP families and on an application contract. */
async function knownTraffic(url: string, metrics: AppMetrics): Promise<void> {
  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${url}/items/${i}`)).status, 200);
  assert.equal((await fetch(`${url}/boom`)).status, 500);
  metrics.handle(TEST_APP_METRICS.emailsSentTotal).inc({ transport: 'smtp' }, 2);
  metrics.handle(TEST_APP_METRICS.batchDurationSeconds).observe({ kind: 'export' }, 0.5);
  metrics.collectAtScrape(TEST_APP_METRICS.backlogMessages, (gauge) => gauge.set({ topic: 'email' }, 7));
  metrics.setQueueDepthSource('email', () => ({ waiting: 1, active: 2, delayed: 3 }));
  metrics.websocketConnected('/');
}

/** Both formats from one base URL: each parses strictly, text passes promtool, and they carry the same samples. */
async function assertBothFormats(base: string): Promise<void> {
  const text = await scrapeAs(base, 'text/plain');
  const om = await scrapeAs(base, PROMETHEUS_ACCEPT);
  assert.equal(text.contentType, TEXT_TYPE);
  assert.equal(om.contentType, OPENMETRICS_TYPE);
  assert.equal(om.vary, 'Accept', 'caches keep the two formats apart');
  assert.deepEqual(await promtoolCheckMetrics(text.body), { code: 0, output: '' });
  assert.ok(om.body.endsWith('\n# EOF\n'));
  const textExposition = parseExposition(text.body);
  const omExposition = parseOpenMetrics(om.body);
  assert.deepEqual(sampleSet(omExposition), sampleSet(textExposition), 'the same samples with the same values');
  assert.equal(omExposition.samples.length, textExposition.samples.length);
  // The counter family is named without `_total` in OpenMetrics; its samples keep it.
  assert.equal(omExposition.types.get('http_requests'), 'counter');
  assert.equal(textExposition.types.get('http_requests_total'), 'counter');
  assert.equal(omExposition.types.get('test_emails_sent'), 'counter');
  for (const e of [textExposition, omExposition]) {
    assert.equal(sampleValue(e, 'http_requests_total', { method: 'GET', route: '/items/:id', status_code: '200' }), 3);
    assert.equal(sampleValue(e, 'test_emails_sent_total', { transport: 'smtp' }), 2);
    assert.equal(sampleValue(e, 'test_emails_sent_total', { transport: 'dev' }), 0, 'closed label values exist at 0');
    assert.equal(sampleValue(e, 'test_batch_duration_seconds_count', { kind: 'export' }), 1);
    assert.equal(sampleValue(e, 'test_backlog_messages', { topic: 'email' }), 7);
    assert.equal(sampleValue(e, 'queue_jobs', { queue: 'email', state: 'delayed' }), 3);
  }
  // A text scrape after an OpenMetrics one still names counters with `_total` (prom-client's
  // OpenMetrics path renames counters in place; the registry must not be affected).
  assert.match((await scrapeAs(base, 'text/plain')).body, /^# TYPE test_emails_sent_total counter$/m);
}

for (const adapter of ADAPTERS) {
  describe(`OpenMetrics on request (${adapter})`, () => {
    it('the application port serves either format from the same data', () =>
      withApp(
        adapter,
        { controllers: [ItemsController], observability: { metrics: [TEST_APP_METRICS], defaultLabels: { service: 'shop' } } },
        async ({ url, app }) => {
          await knownTraffic(url, app.get(AppMetrics));
          await waitFor(
            'the 500 to be counted',
            async () => parseExposition((await scrapeAs(url, '*/*')).body).samples.some((s) => s.labels.status_code === '500') || undefined,
          );
          await assertBothFormats(url);
          const om = parseOpenMetrics((await scrapeAs(url, OPENMETRICS_ACCEPT)).body);
          assert.ok(
            om.samples.every((s) => s.labels.service === 'shop'),
            'default labels on every sample',
          );
        },
      ));

    it('the management port serves either format too', async () => {
      const managementPort = await freePort();
      await withApp(
        adapter,
        { controllers: [ItemsController], observability: { metrics: [TEST_APP_METRICS], managementPort } },
        async ({ url, app }) => {
          await knownTraffic(url, app.get(AppMetrics));
          const management = `http://127.0.0.1:${managementPort}`;
          await waitFor(
            'the 500 to be counted',
            async () =>
              parseExposition((await scrapeAs(management, '*/*')).body).samples.some((s) => s.labels.status_code === '500') || undefined,
          );
          await assertBothFormats(management);
        },
      );
    });
  });
}

describe('parseOpenMetrics', () => {
  it('rejects what is not OpenMetrics (the checks above can fail)', () => {
    const ok = '# TYPE a counter\na_total 1\n# EOF\n';
    assert.equal(parseOpenMetrics(ok).samples.length, 1);
    for (const bad of [
      '# TYPE a counter\na_total 1\n', // no EOF
      '# TYPE a counter\na_total 1\n\n# EOF\n', // blank line
      '# TYPE a counter\na 1\n# EOF\n', // counter sample without _total
      '# TYPE a gauge\na_total 1\n# EOF\n', // gauge with a suffix
      '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n# EOF\n', // interleaved families
    ]) {
      assert.throws(() => parseOpenMetrics(bad), Error, JSON.stringify(bad));
    }
  });
});
