import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { API_METRICS } from '@obsnest/api/metrics';
import { AppMetrics, defineMetric, defineMetrics, METRICS, metricTableMarkdown, metricUnion } from '@obsnest/observability';
import { panelsOf } from '../grafana/src/dashboards.js';
import { generateFiles, OUTPUT_PATHS } from '../src/generate.js';
import { apiConfig } from '../src/repo/api.js';

/**
 * The README's "Add a metric" walk-through, end to end in one place: a metric added to the API's
 * contract (here a copy of API_METRICS with one more entry) is served on /metrics, gets a panel
 * from this repository's mixin config without an edit to it, and a row in the metric table.
 */
const EXTENDED = defineMetrics({
  ...API_METRICS,
  emailsSentTotal: defineMetric({
    name: 'emails_sent_total',
    type: 'counter',
    help: 'Emails handed to the mail transport, by transport.',
    labelNames: ['transport'],
    labelValues: { transport: ['smtp', 'dev'] },
  }),
});

describe('a new application metric, end to end', () => {
  it('is served on /metrics', async () => {
    const metrics = new AppMetrics({ appVersion: 'test', defaultMetrics: false, metrics: [EXTENDED] });
    metrics.handle(EXTENDED.emailsSentTotal).inc({ transport: 'smtp' }, 2);
    const text = await metrics.render();
    assert.match(text, /^emails_sent_total\{transport="smtp"\} 2$/m);
    assert.match(text, /^emails_sent_total\{transport="dev"\} 0$/m, 'closed values declared at 0');
  });

  it('gets a panel on the backend dashboard from the repository config, unchanged', () => {
    const file = generateFiles(apiConfig(EXTENDED)).get(`${OUTPUT_PATHS.dashboardsDir}/nestjs-backend.json`);
    assert.ok(file);
    const panel = panelsOf(JSON.parse(file) as Dashboard).find((p) => p.title === 'emails_sent_total');
    assert.ok(panel, 'a panel for the new metric');
    const exprs = ((panel.targets ?? []) as unknown as { expr: string }[]).map((t) => t.expr);
    assert.deepEqual(exprs, ['sum by (transport) (rate(emails_sent_total{job="$job", instance=~"$instance"}[$__rate_interval]))']);
    const today = generateFiles(apiConfig()).get(`${OUTPUT_PATHS.dashboardsDir}/nestjs-backend.json`) ?? '';
    assert.ok(!today.includes('emails_sent_total'), 'and only because the contract has it');
  });

  it('gets a row in the metric table', () => {
    const table = metricTableMarkdown(metricUnion(METRICS, EXTENDED));
    assert.match(
      table,
      /^\| `emails_sent_total` +\| counter +\| Emails handed to the mail transport, by transport\. +\| `transport` \(smtp, dev\)/m,
    );
  });
});
