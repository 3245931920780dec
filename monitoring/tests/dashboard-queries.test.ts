import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { METRICS } from '@obsnest/observability';
import { defineConfig } from '../src/config.js';
import { API_CONFIG } from '../src/repo/api.js';
import { allPanelQueries } from '../grafana/src/panel-queries.js';
import { type RunningPrometheus, startPrometheus } from './support/prometheus.js';

/**
 * Every panel query, variables substituted, is accepted by a real Prometheus: promtool has no
 * command to parse a lone expression, and a query Prometheus rejects would be an empty panel.
 */
describe('dashboard queries', () => {
  let prometheus: RunningPrometheus;
  before(async () => {
    prometheus = await startPrometheus();
  });
  after(() => prometheus?.stop());

  it('are all valid PromQL for Prometheus', async () => {
    // This repository's dashboards, and generated panels of every metric type.
    const withApplicationMetrics = defineConfig({
      applicationMetrics: [METRICS.httpRequestsTotal, METRICS.queueJobs, METRICS.queueJobDurationSeconds, METRICS.dbPoolPendingRequests],
    });
    const queries = [
      ...allPanelQueries({ job: 'api', instance: '127.0.0.1:3000' }, undefined, API_CONFIG),
      ...allPanelQueries({ job: 'api', instance: '127.0.0.1:3000' }, undefined, withApplicationMetrics),
    ];
    assert.ok(queries.some((query) => query.panel === METRICS.queueJobDurationSeconds.name));
    const rejected: string[] = [];
    for (const query of queries) {
      const response = await prometheus.query(query.expr);
      if (response.status !== 'success') {
        rejected.push(`${query.dashboard} / ${query.panel} / ${query.refId}: ${response.error}\n  ${query.expr}`);
      }
    }
    assert.deepEqual(rejected, []);
  });

  it('are checked for real: Prometheus rejects an invalid one', async () => {
    const response = await prometheus.query('sum by (job (rate(http_requests_total[1m]))');
    assert.equal(response.status, 'error');
    assert.equal(response.errorType, 'bad_data');
  });
});
