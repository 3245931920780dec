import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DASHBOARDS, panelsOf } from '../grafana/src/dashboards.js';
import { nestjsBackendDashboard } from '../grafana/src/dashboards/nestjs-backend.js';
import { persesDashboard } from '../grafana/src/perses/emit.js';
import { API_CONFIG } from '../src/repo/api.js';
import { stat } from '../grafana/src/panels.js';

const PLUGIN_OF_GRAFANA_TYPE: Record<string, string> = {
  timeseries: 'TimeSeriesChart',
  stat: 'StatChart',
  gauge: 'GaugeChart',
  piechart: 'PieChart',
  table: 'Table',
};

describe('Perses dashboards', () => {
  it('have every Grafana panel, in order, with its title, description, plugin and queries', () => {
    for (const spec of DASHBOARDS) {
      const grafana = spec.build(API_CONFIG);
      const perses = persesDashboard(spec.build(API_CONFIG));
      assert.equal(perses.metadata.name, grafana.uid);
      const grafanaPanels = panelsOf(grafana);
      const persesPanels = perses.spec.layouts.flatMap((layout) =>
        layout.spec.items.map((item) => perses.spec.panels[item.content.$ref.replace('#/spec/panels/', '')]),
      );
      assert.equal(persesPanels.length, grafanaPanels.length, spec.file);
      for (const [index, panel] of grafanaPanels.entries()) {
        const converted = persesPanels[index];
        assert.ok(converted, `${spec.file}: ${panel.title}`);
        assert.equal(converted.spec.display.name, panel.title);
        assert.equal(converted.spec.display.description, panel.description);
        assert.equal(converted.spec.plugin.kind, PLUGIN_OF_GRAFANA_TYPE[panel.type], panel.title);
        const exprs = ((panel.targets ?? []) as unknown as { expr: string }[]).map((target) => target.expr);
        const queries = converted.spec.queries.map((query) => query.spec.plugin.spec.query);
        assert.equal(queries.length, exprs.length, panel.title);
        for (const [i, expr] of exprs.entries()) assert.ok(queries[i]?.startsWith(expr) || queries[i]?.includes(`(${expr})`), panel.title);
      }
    }
  });

  it('keep the layout: groups for rows, Grafana grid positions relative to their group', () => {
    const perses = persesDashboard(nestjsBackendDashboard());
    assert.deepEqual(
      perses.spec.layouts.map((layout) => layout.spec.display?.title),
      [undefined, 'Runtime'],
    );
    const [top, runtime] = perses.spec.layouts;
    assert.deepEqual(top?.spec.items[0], { x: 0, y: 0, width: 12, height: 8, content: { $ref: '#/spec/panels/HTTP_Request_Rate' } });
    assert.equal(runtime?.spec.items[0]?.y, 0, 'a group starts at its own top');
  });

  it('use the main dashboard settings: last hour, 10 s refresh, job and instance label-values variables', () => {
    const { spec } = persesDashboard(nestjsBackendDashboard());
    assert.equal(spec.duration, '1h');
    assert.equal(spec.refreshInterval, '10s');
    const [job, instance] = spec.variables;
    assert.deepEqual(job?.spec.plugin, { kind: 'PrometheusLabelValuesVariable', spec: { labelName: 'job', matchers: ['app_build_info'] } });
    assert.equal(job?.spec.defaultValue, 'api');
    assert.deepEqual(instance?.spec.plugin.spec, { labelName: 'instance', matchers: ['up{job="$job"}'] });
    assert.equal(instance?.spec.allowMultiple, true);
    assert.equal(instance?.spec.customAllValue, '.+');
    assert.equal(spec.variables.length, 2, 'the datasource variable has no Perses counterpart');
  });

  it('map units, thresholds and the Grafana "no value 0" of counts', () => {
    const { spec } = persesDashboard(nestjsBackendDashboard());
    const plugin = (key: string) => spec.panels[key]?.spec.plugin.spec as Record<string, unknown>;
    assert.deepEqual((plugin('HTTP_Request_Rate').yAxis as { format: unknown }).format, { unit: 'requests/sec' });
    assert.deepEqual(plugin('Heap_Used_Ratio').format, { unit: 'percent-decimal' });
    assert.equal((plugin('Error_Rate').thresholds as { steps: unknown[] }).steps.length, 2);
    const total = spec.panels.Total_Requests?.spec.queries[0]?.spec.plugin.spec.query;
    assert.match(total ?? '', /^\(sum\(increase\(.*\)\) or vector\(0\)$/);
  });

  it('refuse a panel not made by a panels.ts factory, and a unit without a Perses form', () => {
    const dashboard = nestjsBackendDashboard();
    dashboard.panels = [{ ...(dashboard.panels?.[0] as object), title: 'copied' } as never];
    assert.throws(() => persesDashboard(dashboard), /"copied" was not made by a factory/);
    const odd = nestjsBackendDashboard();
    odd.panels = [stat({ title: 'Odd', description: 'd', unit: 'lengthmm', queries: [{ expr: 'up' }] }).build()];
    assert.throws(() => persesDashboard(odd), /no Perses unit for Grafana unit "lengthmm"/);
  });
});
