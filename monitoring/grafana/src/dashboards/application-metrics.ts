import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type { Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import type { MetricDefinitionLike } from '../../../src/config.js';
import { timeseries } from '../panels.js';
import { eq, quantile, rate, re, selector, sum } from '../promql.js';

/**
 * One panel per metric of an application's own contract, so a metric the app adds is on the
 * dashboard without a line of dashboard code: counters as a rate by their labels, gauges as
 * their value by their labels (summed over instances), histograms as p50 and p95.
 */

/** The application dashboard's series filter: the selected job and instances. */
export const PANEL_TARGET: readonly string[] = [eq('job', '$job'), re('instance', '$instance')];

/** Grafana unit of a metric's value (gauges, histogram quantiles) from the contract's `unit`. */
function valueUnit(unit: string | undefined): string {
  switch (unit) {
    case undefined:
    case 'count':
      return 'short';
    case 'seconds':
      return 's';
    case 'ratio':
      return 'percentunit';
    default:
      return unit;
  }
}

/** Grafana unit of a counter's per-second rate. */
function rateUnit(unit: string | undefined): string {
  switch (unit) {
    case undefined:
    case 'count':
      return 'ops';
    case 'bytes':
      return 'Bps';
    case 'seconds':
      return 'short';
    default:
      return unit;
  }
}

const legendOf = (labels: readonly string[], fallback: string): string =>
  labels.length > 0 ? labels.map((label) => `{{${label}}}`).join(' ') : fallback;

export function applicationMetricPanel(metric: MetricDefinitionLike): cog.Builder<Panel> {
  const labels = [...metric.labelNames];
  const series = selector(metric.name, [...PANEL_TARGET]);
  const legend = legendOf(labels, metric.name);
  switch (metric.type) {
    case 'counter':
      return timeseries({
        title: metric.name,
        description: `${metric.help} Per second.`,
        unit: rateUnit(metric.unit),
        min: 0,
        queries: [{ expr: sum(rate(series), labels), legend }],
      });
    case 'gauge':
      return timeseries({
        title: metric.name,
        description: metric.help,
        unit: valueUnit(metric.unit),
        queries: [{ expr: sum(series, labels), legend }],
      });
    case 'histogram':
      return timeseries({
        title: metric.name,
        description: `${metric.help} Median and 95th percentile.`,
        unit: valueUnit(metric.unit),
        min: 0,
        queries: [
          { expr: quantile(0.5, metric, PANEL_TARGET, labels), legend: `${legend} p50` },
          { expr: quantile(0.95, metric, PANEL_TARGET, labels), legend: `${legend} p95` },
        ],
      });
  }
}

export const applicationMetricPanels = (metrics: readonly MetricDefinitionLike[]): cog.Builder<Panel>[] =>
  metrics.map(applicationMetricPanel);
