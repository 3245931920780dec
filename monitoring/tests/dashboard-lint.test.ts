import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { PERSES_DASHBOARDS_DIR } from './support/paths.js';
import {
  type GrafanaDashboardJson,
  lintGrafana,
  lintPerses,
  mayReturnManySeries,
  type PersesDashboardJson,
  parsePromql,
} from './support/dashboard-lint.js';
import { GRAFANA_DIR } from './support/paths.js';

/** The lint runs on the committed JSON, the files Grafana provisions and Perses imports. */

const GRAFANA_DASHBOARDS = join(GRAFANA_DIR, 'dashboards');
const readJson = <T>(dir: string, file: string): T => JSON.parse(readFileSync(join(dir, file), 'utf8')) as T;
const jsonFiles = (dir: string) => readdirSync(dir).filter((file) => file.endsWith('.json'));
const clone = <T>(value: T): T => structuredClone(value);

/** The uid of the Prometheus datasource Grafana provisions. */
function provisionedUid(): string {
  const config = parse(readFileSync(join(GRAFANA_DIR, 'provisioning', 'datasources', 'datasources.yml'), 'utf8')) as {
    datasources: { uid: string; type: string }[];
  };
  const prometheus = config.datasources.find((datasource) => datasource.type === 'prometheus');
  assert.ok(prometheus);
  return prometheus.uid;
}

const grafana = (file: string) => readJson<GrafanaDashboardJson>(GRAFANA_DASHBOARDS, file);
const perses = (file: string) => readJson<PersesDashboardJson>(PERSES_DASHBOARDS_DIR, file);

describe('dashboard lint', () => {
  it('finds nothing in the committed Grafana dashboards', () => {
    const files = jsonFiles(GRAFANA_DASHBOARDS);
    assert.equal(files.length, 3);
    for (const file of files) assert.deepEqual(lintGrafana(grafana(file), provisionedUid()), [], file);
  });

  it('finds nothing in the committed Perses dashboards', () => {
    const files = jsonFiles(PERSES_DASHBOARDS_DIR);
    assert.equal(files.length, 3);
    for (const file of files) assert.deepEqual(lintPerses(perses(file)), [], file);
  });

  it('reports a query that does not parse, a fixed rate window and an undefined variable', () => {
    const dashboard = grafana('nestjs-backend.json');
    const [first, second, third] = (dashboard.panels ?? []).filter((panel) => panel.targets?.length);
    (first?.targets?.[0] as { expr: string }).expr = 'sum(rate(http_requests_total[$__rate_interval])';
    (second?.targets?.[0] as { expr: string }).expr = 'sum(rate(http_requests_total[5m]))';
    (third?.targets?.[0] as { expr: string }).expr = 'sum(http_requests_total{job="$nojob"})';
    const findings = lintGrafana(dashboard, provisionedUid());
    assert.equal(findings.length, 3, findings.join('\n'));
    assert.match(findings[0] as string, /HTTP Request Rate: PromQL does not parse/);
    assert.match(findings[1] as string, /HTTP Request Duration: rate window \[5m\] is not \$__rate_interval/);
    assert.match(findings[2] as string, /Total Requests: uses \$nojob, which is not defined/);
  });

  it('reports a missing title, description or unit, another datasource and overlapping panels', () => {
    const dashboard = grafana('infrastructure.json');
    const panels = (dashboard.panels ?? []).filter((panel) => panel.type !== 'row');
    const [a, b, c] = panels as [(typeof panels)[0], (typeof panels)[0], (typeof panels)[0]];
    a.description = '';
    delete (b.fieldConfig as { defaults: { unit?: string } }).defaults.unit;
    c.datasource = { uid: 'elsewhere' };
    b.gridPos = { ...(a.gridPos as { x: number; y: number; w: number; h: number }) };
    const findings = lintGrafana(dashboard, provisionedUid());
    assert.ok(
      findings.some((f) => /Scrape Targets: no description/.test(f)),
      findings.join('\n'),
    );
    assert.ok(findings.some((f) => /CPU Usage: no unit/.test(f)));
    assert.ok(findings.some((f) => /Memory Usage: datasource elsewhere is not prometheus/.test(f)));
    assert.ok(findings.some((f) => /Scrape Targets overlaps infrastructure \/ CPU Usage/.test(f)));
    assert.equal(findings.length, 4, findings.join('\n'));
  });

  it('reports a Grafana datasource variable that does not default to the provisioned uid', () => {
    const dashboard = grafana('slo-alerts.json');
    const variable = dashboard.templating?.list?.find((v) => v.type === 'datasource');
    (variable as { current: { value: string } }).current.value = 'other';
    assert.deepEqual(lintGrafana(dashboard, provisionedUid()), ['slo-alerts: the datasource variable defaults to other, not prometheus']);
  });

  it('reports a panel of several series without a legend, in both formats', () => {
    const dashboard = grafana('nestjs-backend.json');
    const rate = dashboard.panels?.find((panel) => panel.title === 'HTTP Request Rate');
    (rate?.options?.legend as { showLegend: boolean }).showLegend = false;
    assert.deepEqual(lintGrafana(dashboard, provisionedUid()), [
      'nestjs-backend / HTTP Request Rate: draws several series without a legend',
    ]);

    const persesDashboard = perses('nestjs-backend.json');
    delete persesDashboard.spec.panels.HTTP_Request_Rate?.spec.plugin.spec.legend;
    const uptime = persesDashboard.spec.panels.Uptime?.spec.queries?.[0]?.spec.plugin.spec;
    delete uptime?.seriesNameFormat;
    assert.deepEqual(lintPerses(persesDashboard), [
      'nestjs-backend / HTTP_Request_Rate: draws several series without a legend',
      'nestjs-backend / Uptime: draws several series, not all of them named by a series name format',
    ]);
  });

  it('reports Perses panels that overlap, lack a unit, or are not placed', () => {
    const dashboard = clone(perses('nestjs-backend.json'));
    const [top] = dashboard.spec.layouts;
    const [first, second] = top?.spec.items ?? [];
    if (first && second) Object.assign(second, { x: first.x, y: first.y });
    const format = (dashboard.spec.panels.Error_Rate?.spec.plugin.spec.yAxis as { format?: unknown } | undefined) ?? {};
    delete format.format;
    top?.spec.items.splice(top.spec.items.length - 1, 1);
    const findings = lintPerses(dashboard);
    assert.deepEqual(findings, [
      'nestjs-backend / top / HTTP_Request_Rate overlaps nestjs-backend / top / HTTP_Request_Duration',
      'nestjs-backend / Error_Rate: no unit',
      'nestjs-backend / Outbox_Oldest_Message_Age: not placed in any layout',
    ]);
  });

  it('tells single-series expressions from those that may return several', () => {
    const many = (expr: string) => mayReturnManySeries(parsePromql(expr));
    assert.equal(many('sum(rate(x[$__rate_interval]))'), false);
    assert.equal(many('histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m])))'), false);
    assert.equal(many('(sum(increase(x[5m]))) or vector(0)'), false);
    assert.equal(many('histogram_quantile(0.95, sum by (le, route) (rate(x_bucket[5m])))'), true);
    assert.equal(many('sum by (status_code) (rate(x[5m]))'), true);
    assert.equal(many('1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes'), true);
    assert.equal(many('time() - max by (instance) (process_start_time_seconds)'), true);
  });
});
