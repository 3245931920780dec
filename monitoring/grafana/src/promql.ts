import type { MetricDefinition } from '@obsnest/observability';

/**
 * Small PromQL builders for the dashboards. They only assemble text; Prometheus itself checks the
 * result (the test suite runs every dashboard query against a real server).
 */

/** Grafana's rate window: at least four scrape intervals, and one query step more. */
export const RATE_INTERVAL = '$__rate_interval';
/** The dashboard's whole time range. */
export const DASHBOARD_RANGE = '$__range';

/** A label matcher, e.g. `eq('job', 'api')` → `job="api"`. Values are written as given. */
export const eq = (label: string, value: string): string => `${label}="${value}"`;
export const ne = (label: string, value: string): string => `${label}!="${value}"`;
export const re = (label: string, pattern: string): string => `${label}=~"${pattern}"`;
export const nre = (label: string, pattern: string): string => `${label}!~"${pattern}"`;

/** `metric{m1, m2}`; matchers come from eq/ne/re/nre. */
export function selector(metric: string, matchers: readonly string[] = []): string {
  return matchers.length === 0 ? metric : `${metric}{${matchers.join(', ')}}`;
}

export const rate = (series: string, range: string = RATE_INTERVAL): string => `rate(${series}[${range}])`;
export const increase = (series: string, range: string = RATE_INTERVAL): string => `increase(${series}[${range}])`;

function aggregate(op: string, labels: readonly string[], expr: string): string {
  return labels.length === 0 ? `${op}(${expr})` : `${op} by (${labels.join(', ')}) (${expr})`;
}

export const sum = (expr: string, by: readonly string[] = []): string => aggregate('sum', by, expr);
export const max = (expr: string, by: readonly string[] = []): string => aggregate('max', by, expr);
export const avg = (expr: string, by: readonly string[] = []): string => aggregate('avg', by, expr);

/** The `_bucket`/`_count` series of a histogram from the contract. */
export function histogramSeries(metric: MetricDefinition, suffix: 'bucket' | 'count' | 'sum'): string {
  if (metric.type !== 'histogram') throw new Error(`${metric.name} is a ${metric.type}, not a histogram`);
  return `${metric.name}_${suffix}`;
}

/** `histogram_quantile(q, sum by (le, ...by) (rate(metric_bucket{...}[$__rate_interval])))`. */
export function quantile(q: number, metric: MetricDefinition, matchers: readonly string[], by: readonly string[] = []): string {
  const buckets = rate(selector(histogramSeries(metric, 'bucket'), matchers));
  return `histogram_quantile(${q}, ${sum(buckets, ['le', ...by])})`;
}

/**
 * `numerator / denominator`, reading 0 rather than "no data" while the numerator has no series
 * yet (a 5xx or a failed job that never happened).
 */
export function ratioOrZero(numerator: string, denominator: string): string {
  return `(${numerator} or 0 * ${denominator}) / ${denominator}`;
}
