import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import { METRICS } from '@obsnest/observability/contract';
import {
  DashboardBuilder,
  DashboardCursorSync,
  type DashboardLink,
  DashboardLinkType,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DATASOURCE } from './panels.js';
import { eq, selector } from './promql.js';
import { JOBS, PROMETHEUS_METRICS } from './scrape-targets.js';

/** Tag shared by every generated dashboard; the dashboards link to each other through it. */
export const DASHBOARD_TAG = 'obsnest';

export interface DashboardMeta {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
}

/**
 * A drop-down of the other dashboards with our tag, keeping the time range. Built by hand: the
 * SDK's link builder always sets `placement: inControlsMenu`, which hides the link inside the
 * controls menu of recent Grafana versions.
 */
const siblingDashboards: cog.Builder<DashboardLink> = {
  build: () => ({
    title: 'Dashboards',
    type: DashboardLinkType.Dashboards,
    tags: [DASHBOARD_TAG],
    asDropdown: true,
    includeVars: false,
    keepTime: true,
    targetBlank: false,
    icon: 'external link',
    tooltip: '',
  }),
};

/**
 * A dashboard with the settings all of ours share: 10 s refresh over the last hour (the seed
 * dashboard's), read-only (the TypeScript is the source, see provisioning/dashboards), shared
 * crosshair, links to the sibling dashboards, and a Prometheus datasource picker.
 */
export function newDashboard(meta: DashboardMeta): DashboardBuilder {
  return new DashboardBuilder(meta.title)
    .uid(meta.uid)
    .description(meta.description)
    .tags([DASHBOARD_TAG, ...meta.tags])
    .refresh('10s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .tooltip(DashboardCursorSync.Crosshair)
    .readonly()
    .link(siblingDashboards)
    .withVariable(
      new DatasourceVariableBuilder('datasource')
        .label('Data source')
        .type('prometheus')
        .current({ text: 'Prometheus', value: 'prometheus', selected: true }),
    );
}

/**
 * Jobs that expose the application's metrics: `app_build_info` is registered by every one.
 * `job` is the one selected by default.
 */
export function jobVariable(job: string = JOBS.api): QueryVariableBuilder {
  const query = `label_values(${METRICS.appBuildInfo.name}, job)`;
  return new QueryVariableBuilder('job')
    .label('Job')
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnDashboardLoad)
    .sort(VariableSort.AlphabeticalAsc)
    .current({ text: job, value: job, selected: true });
}

/** Scrape targets of the selected job; "All" matches every instance. */
export function instanceVariable(): QueryVariableBuilder {
  const query = `label_values(${selector(PROMETHEUS_METRICS.up, [eq('job', '$job')])}, instance)`;
  return new QueryVariableBuilder('instance')
    .label('Instance')
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.+')
    .current({ text: 'All', value: '$__all', selected: true });
}
