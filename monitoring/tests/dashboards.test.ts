import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import type { Dashboard, Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { parse } from 'yaml';
import { DASHBOARD_TAG } from '../grafana/src/dashboard.js';
import { DASHBOARDS, panelsOf, renderDashboard } from '../grafana/src/dashboards.js';
import { infrastructureDashboard } from '../grafana/src/dashboards/infrastructure.js';
import { nestjsBackendDashboard } from '../grafana/src/dashboards/nestjs-backend.js';
import { sloAlertsDashboard } from '../grafana/src/dashboards/slo-alerts.js';
import { allPanelQueries, panelQueries } from '../grafana/src/panel-queries.js';
import { DATASOURCE } from '../grafana/src/panels.js';
import { COMPOSE_FILE, GRAFANA_DIR, GRAFANA_SOURCE_DIR, MIXIN_SOURCE_DIR } from './support/paths.js';
import { knownMetricNames, labelValuesMetric, metricNames, unknownMetricNames } from './support/promql.js';
import { recordingRules } from './support/rules.js';
import { API_CONFIG } from '../src/repo/api.js';
import { defineConfig } from '../src/config.js';
import { renderDatasources } from '../src/provisioning.js';

interface Target {
  expr: string;
  datasource?: { uid?: string };
}
const targetsOf = (panel: Panel): Target[] => (panel.targets ?? []) as unknown as Target[];
const titlesOf = (dashboard: Dashboard): string[] => (dashboard.panels ?? []).map((panel) => panel.title ?? '');
const exprsOf = (dashboard: Dashboard): string[] => panelsOf(dashboard).flatMap((panel) => targetsOf(panel).map((t) => t.expr));

describe('generated dashboards', () => {
  it('render deterministically, with sorted keys, numbered panels and a trailing newline', () => {
    for (const spec of DASHBOARDS) {
      const json = renderDashboard(spec.build());
      assert.equal(json, renderDashboard(spec.build()), spec.file);
      assert.ok(json.endsWith('}\n'), spec.file);
      const parsed = JSON.parse(json) as Dashboard & Record<string, unknown>;
      assert.deepEqual(Object.keys(parsed), Object.keys(parsed).sort(), spec.file);
      const ids = (parsed.panels ?? []).map((panel) => panel.id);
      assert.deepEqual(
        ids,
        ids.map((_, index) => index + 1),
        spec.file,
      );
    }
  });

  it('have unique uids matching their file names, the shared tag, a dark style and read-only settings', () => {
    const uids = DASHBOARDS.map((spec) => spec.build().uid);
    assert.deepEqual(uids, [...new Set(uids)]);
    for (const spec of DASHBOARDS) {
      const dashboard = JSON.parse(renderDashboard(spec.build())) as Dashboard & { style?: string };
      assert.equal(`${dashboard.uid}.json`, spec.file);
      assert.ok(dashboard.tags?.includes(DASHBOARD_TAG), spec.file);
      assert.equal(dashboard.style, 'dark', spec.file);
      assert.equal(dashboard.editable, false, spec.file);
      assert.equal(dashboard.templating.list?.[0]?.name, 'datasource', spec.file);
    }
  });

  it('set a unit and thresholds on every panel and query the datasource variable', () => {
    for (const spec of DASHBOARDS) {
      for (const panel of panelsOf(spec.build())) {
        const where = `${spec.file}: ${panel.title}`;
        assert.ok(panel.fieldConfig?.defaults.unit, `${where}: unit`);
        assert.ok(panel.fieldConfig?.defaults.thresholds?.steps.length, `${where}: thresholds`);
        assert.equal(panel.datasource?.uid, DATASOURCE.uid, where);
        for (const target of targetsOf(panel)) assert.equal(target.datasource?.uid, DATASOURCE.uid, where);
        assert.ok(panel.description, `${where}: description`);
      }
    }
  });

  it('read only metrics of the contract, the exporters and the recording rules', () => {
    const known = knownMetricNames();
    for (const spec of DASHBOARDS) {
      const dashboard = spec.build(API_CONFIG);
      const names = [
        ...exprsOf(dashboard).flatMap(metricNames),
        ...(dashboard.templating.list ?? []).flatMap((variable) =>
          variable.type === 'query' ? labelValuesMetric(String(variable.query)) : [],
        ),
      ];
      assert.ok(names.length > 0);
      assert.deepEqual(unknownMetricNames(names, known), [], spec.file);
    }
  });

  it('use only recording rules that exist in the rule files', () => {
    const recorded = new Set(recordingRules().map((rule) => rule.record));
    const used = DASHBOARDS.flatMap((spec) => exprsOf(spec.build(API_CONFIG)).flatMap(metricNames)).filter((name) => name.includes(':'));
    assert.ok(used.length > 0, 'the SLO dashboard reads recording rules');
    for (const name of used) assert.ok(recorded.has(name), `${name} is not a recording rule`);
  });

  it('spell no metric name in their source, nor do the rule generators: names come from the contract or the two name modules', () => {
    const metricNamesSet = knownMetricNames();
    const nameModules = new Set(['recording-rules.ts', 'scrape-targets.ts']);
    const sources = [GRAFANA_SOURCE_DIR, MIXIN_SOURCE_DIR].flatMap((dir) =>
      readdirSync(dir, { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.ts') && !nameModules.has(file))
        .map((file) => join(dir, file)),
    );
    assert.ok(sources.some((file) => file.endsWith('alerts.ts')));
    for (const file of sources) {
      // A quoted name, or a selector at the start of a string or template: 'x', `x{...`.
      const literals = [...readFileSync(file, 'utf8').matchAll(/'([A-Za-z_:][\w:]*)'|['`]([A-Za-z_:][\w:]*)\{/g)].map((m) => m[1] ?? m[2]);
      const spelled = literals.filter((literal) => metricNamesSet.has(literal as string));
      assert.deepEqual(spelled, [], `${relative(GRAFANA_DIR, file)} spells metric names`);
    }
  });
});

describe('NestJS Backend dashboard', () => {
  const dashboard = nestjsBackendDashboard(API_CONFIG);

  it('has the seed panels, the outbox panels under the queue ones, then a Runtime row with the Node.js runtime panels', () => {
    assert.equal(dashboard.uid, 'nestjs-backend');
    assert.equal(dashboard.title, 'NestJS Backend');
    assert.deepEqual(titlesOf(dashboard), [
      'HTTP Request Rate',
      'HTTP Request Duration',
      'Total Requests',
      'Status Codes Distribution',
      'Error Rate',
      'WebSocket Connections',
      'Queue Jobs',
      'Queue Processing Rate',
      'Outbox Pending Messages',
      'Outbox Oldest Message Age',
      'Runtime',
      'Heap Used Ratio',
      'Uptime',
      'Event Loop Lag',
      'Heap Used / Limit',
      'Active Handles',
      'HTTP Response Time P95 / P99',
      'DB Connection Pool',
      'HTTP Status Codes',
    ]);
    assert.equal(dashboard.panels?.find((panel) => panel.title === 'Runtime')?.type, 'row');
  });

  it('uses the seed settings: 10 s refresh over the last hour', () => {
    assert.equal(dashboard.refresh, '10s');
    assert.deepEqual(dashboard.time, { from: 'now-1h', to: 'now' });
  });

  it('has datasource, job and instance variables', () => {
    const [datasource, job, instance] = dashboard.templating.list ?? [];
    assert.equal(datasource?.type, 'datasource');
    assert.equal(datasource?.query, 'prometheus');
    assert.equal(job?.name, 'job');
    assert.equal(job?.query, 'label_values(app_build_info, job)');
    assert.equal(instance?.name, 'instance');
    assert.equal(instance?.query, 'label_values(up{job="$job"}, instance)');
    assert.equal(instance?.multi, true);
    assert.equal(instance?.includeAll, true);
  });

  it('scopes every series it reads to the selected job and instances', () => {
    for (const expr of exprsOf(dashboard)) {
      const selectors = [...expr.matchAll(/([A-Za-z_:][\w:]*)\{([^}]*)\}/g)];
      assert.deepEqual(
        metricNames(expr).filter((name) => !selectors.some(([, selected]) => selected === name)),
        [],
        `a metric without label matchers in ${expr}`,
      );
      for (const [, name, matchers] of selectors) {
        assert.ok(matchers?.includes('job="$job"') && matchers.includes('instance=~"$instance"'), `${name} in ${expr}`);
      }
    }
  });

  it('shows rates, durations, shares and sizes in their units', () => {
    const unit = (title: string) => panelsOf(dashboard).find((panel) => panel.title === title)?.fieldConfig?.defaults.unit;
    assert.equal(unit('HTTP Request Rate'), 'reqps');
    assert.equal(unit('HTTP Request Duration'), 's');
    assert.equal(unit('Error Rate'), 'percentunit');
    assert.equal(unit('Heap Used Ratio'), 'percentunit');
    assert.equal(unit('Heap Used / Limit'), 'bytes');
    assert.equal(unit('Total Requests'), 'short');
    const types = Object.fromEntries(panelsOf(dashboard).map((panel) => [panel.title, panel.type]));
    assert.equal(types['Status Codes Distribution'], 'piechart');
    assert.equal(types['Total Requests'], 'stat');
    assert.equal(types['Heap Used Ratio'], 'gauge');
  });
});

describe('Infrastructure and SLO dashboards', () => {
  it('cover the host, PostgreSQL and Redis', () => {
    const dashboard = infrastructureDashboard();
    assert.equal(dashboard.uid, 'infrastructure');
    const titles = titlesOf(dashboard);
    for (const title of [
      'Host',
      'CPU Usage',
      'Memory Usage',
      'Disk Usage',
      'Network Traffic',
      'PostgreSQL',
      'PostgreSQL Connections',
      'PostgreSQL Transactions',
      'PostgreSQL Database Size',
      'PostgreSQL Deadlocks',
      'Redis',
      'Redis Memory',
      'Redis Connected Clients',
      'Redis Commands',
      'Redis Keyspace Hit Ratio',
    ]) {
      assert.ok(titles.includes(title), title);
    }
  });

  it('show error budgets, burn rates and indicators of both SLOs, and the firing alerts', () => {
    const dashboard = sloAlertsDashboard();
    assert.equal(dashboard.uid, 'slo-alerts');
    const titles = titlesOf(dashboard);
    for (const slo of ['Availability', 'Latency']) {
      for (const suffix of ['Error Budget Remaining', 'SLI (30d)', 'Burn Rate', 'SLI', 'Error Budget Over Time']) {
        assert.ok(titles.includes(`${slo} ${suffix}`), `${slo} ${suffix}`);
      }
    }
    const alertsTable = panelsOf(dashboard).find((panel) => panel.type === 'table');
    assert.match(targetsOf(alertsTable as Panel)[0]?.expr ?? '', /^ALERTS\{alertstate="firing"/);
  });
});

describe('panelQueries', () => {
  it('substitutes the job, an escaped instance regex and Grafana built-ins', () => {
    const queries = panelQueries(nestjsBackendDashboard(), { job: 'api', instance: '127.0.0.1:3000' });
    const rate = queries.find((query) => query.panel === 'HTTP Request Rate');
    assert.equal(
      rate?.expr,
      'sum by (method, route, status_code) (rate(http_requests_total{job="api", instance=~"127\\\\.0\\\\.0\\\\.1:3000"}[1m]))',
    );
    assert.equal(queries.find((query) => query.panel === 'Status Codes Distribution')?.instant, true);
  });

  it('uses the "All" value of a multi-value variable left out, and refuses a missing single value', () => {
    const queries = panelQueries(nestjsBackendDashboard(), { job: 'api' });
    assert.ok(queries.every((query) => query.expr.includes('instance=~".+"')));
    assert.throws(() => panelQueries(nestjsBackendDashboard(), {}), /\$job/);
  });

  it('leaves no variable in any query of any dashboard', () => {
    const queries = allPanelQueries({ job: 'api', instance: '127.0.0.1:3000' }, undefined, API_CONFIG);
    assert.ok(queries.length > 50);
    for (const query of queries) assert.doesNotMatch(query.expr, /\$/, `${query.dashboard}/${query.panel}`);
  });
});

describe('Grafana provisioning', () => {
  const provisioning = join(GRAFANA_DIR, 'provisioning');

  it('provisions Prometheus as the default datasource and Alertmanager, with fixed uids', () => {
    const config = parse(readFileSync(join(provisioning, 'datasources', 'datasources.yml'), 'utf8')) as {
      datasources: { uid: string; type: string; isDefault?: boolean; url: string; jsonData?: Record<string, unknown> }[];
    };
    const byUid = Object.fromEntries(config.datasources.map((datasource) => [datasource.uid, datasource]));
    assert.equal(byUid.prometheus?.type, 'prometheus');
    assert.equal(byUid.prometheus?.isDefault, true);
    assert.equal(byUid.prometheus?.url, 'http://prometheus:9090');
    assert.equal(byUid.alertmanager?.type, 'alertmanager');
    assert.equal(byUid.alertmanager?.jsonData?.implementation, 'prometheus');
    assert.equal(byUid.alertmanager?.url, 'http://alertmanager:9093');
  });

  it("offers the long-term store in every dashboard's datasource picker, Prometheus staying the default", () => {
    const config = parse(readFileSync(join(provisioning, 'datasources', 'datasources.yml'), 'utf8')) as {
      datasources: { uid: string; type: string; isDefault?: boolean; url: string }[];
    };
    const longTerm = config.datasources.find((datasource) => datasource.uid === 'long-term');
    assert.equal(longTerm?.type, 'prometheus', 'the type the picker lists');
    assert.equal(longTerm?.isDefault, undefined);
    for (const spec of DASHBOARDS) {
      const picker = (spec.build(API_CONFIG).templating.list ?? []).find((variable) => variable.type === 'datasource');
      assert.equal(picker?.query, longTerm?.type, `${spec.file}: a picker over the prometheus datasources`);
      assert.equal((picker?.current as { value?: string } | undefined)?.value, 'prometheus', `${spec.file}: Prometheus by default`);
    }
    const without = parse(renderDatasources(defineConfig({ job: 'payments' }))) as { datasources: { uid: string }[] };
    assert.deepEqual(
      without.datasources.map((datasource) => datasource.uid),
      ['prometheus', 'alertmanager'],
      'no store configured, no datasource for it',
    );
  });

  it('links exemplars to Jaeger, Jaeger spans to their Loki lines and Loki lines to their traces', () => {
    const config = parse(readFileSync(join(provisioning, 'datasources', 'datasources.yml'), 'utf8')) as {
      datasources: { uid: string; type: string; url: string; jsonData?: Record<string, unknown> }[];
    };
    const byUid = Object.fromEntries(config.datasources.map((datasource) => [datasource.uid, datasource]));
    assert.deepEqual(byUid.prometheus?.jsonData?.exemplarTraceIdDestinations, [{ name: 'trace_id', datasourceUid: 'jaeger' }]);
    assert.equal(byUid.jaeger?.type, 'jaeger');
    assert.equal(byUid.jaeger?.url, 'http://jaeger:16686');
    const toLogs = byUid.jaeger?.jsonData?.tracesToLogsV2 as { datasourceUid: string; query: string };
    assert.equal(toLogs.datasourceUid, 'loki');
    assert.match(toLogs.query, /trace_id="\$\$\{__span\.traceId\}"/, 'the trace id, $$-escaped from provisioning interpolation');
    assert.equal(byUid.loki?.type, 'loki');
    const [derived] = (byUid.loki?.jsonData?.derivedFields ?? []) as { matcherRegex: string; datasourceUid: string }[];
    assert.equal(derived?.datasourceUid, 'jaeger');
    const line = JSON.stringify({ level: 30, msg: 'request', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7' });
    assert.equal(
      new RegExp(derived?.matcherRegex ?? '').exec(line)?.[1],
      '4bf92f3577b34da6a3ce929d0e0e4736',
      'finds the trace id in a pino line',
    );
  });

  it('loads the generated dashboards from the directory docker-compose.yml mounts, read-only in the UI', () => {
    const config = parse(readFileSync(join(provisioning, 'dashboards', 'dashboards.yml'), 'utf8')) as {
      providers: { folder: string; allowUiUpdates: boolean; updateIntervalSeconds: number; options: { path: string } }[];
    };
    const [provider] = config.providers;
    assert.equal(provider?.options.path, '/var/lib/grafana/dashboards');
    assert.equal(provider?.allowUiUpdates, false);
    assert.ok(provider?.folder);
    assert.ok((provider?.updateIntervalSeconds ?? 0) > 0);
    const compose = readFileSync(COMPOSE_FILE, 'utf8');
    assert.ok(compose.includes('./monitoring/grafana/dashboards:/var/lib/grafana/dashboards:ro'));
    assert.ok(compose.includes('./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro'));
  });
});
