/**
 * Small PromQL builders for the dashboards and the rule generator. They only assemble text;
 * Prometheus itself checks the result (the test suite runs every dashboard query against a real
 * server, and promtool checks and unit-tests the generated rules).
 */

/** What the builders need of a metric definition; the library's `MetricDefinition` fits it. */
export interface MetricRef {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
}

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
export function histogramSeries(metric: MetricRef, suffix: 'bucket' | 'count' | 'sum'): string {
  if (metric.type !== 'histogram') throw new Error(`${metric.name} is a ${metric.type}, not a histogram`);
  return `${metric.name}_${suffix}`;
}

/** `histogram_quantile(q, sum by (le, ...by) (rate(metric_bucket{...}[$__rate_interval])))`. */
export function quantile(q: number, metric: MetricRef, matchers: readonly string[], by: readonly string[] = []): string {
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

/** A range function over a selector: `deriv(x[15m])`, `changes(x[30m])`, `min_over_time(x[5m])`. */
export const overRange = (fn: 'deriv' | 'changes' | 'min_over_time' | 'max_over_time', series: string, range: string): string =>
  `${fn}(${series}[${range}])`;

/** `histogram_quantile(q, buckets)` over already aggregated bucket rates (a recording rule). */
export const histogramQuantile = (q: number, buckets: string): string => `histogram_quantile(${q}, ${buckets})`;

export const paren = (expr: string): string => `(${expr})`;
export const vector = (value: number): string => `vector(${value})`;

type Comparison = '>' | '>=' | '<' | '<=' | '==' | '!=';
/** `expr > value`; comparisons bind looser than arithmetic and tighter than `and`/`or`. */
export const compare = (expr: string, op: Comparison, value: number): string => `${expr} ${op} ${value}`;

/** Vector matching clause: ` on (job, queue)`, or nothing. */
const matching = (on: readonly string[] | undefined): string => (on ? ` on (${on.join(', ')})` : '');

type Arithmetic = '+' | '-' | '*' | '/';
/** `a / b`, `a + on (job) b`… Operands are written as given: parenthesise lower-precedence ones. */
export const arithmetic = (a: string, op: Arithmetic, b: string, on?: readonly string[]): string => `${a} ${op}${matching(on)} ${b}`;

/** `a and on (job) b and on (job) c`: every operand must have a matching series. */
export const and = (operands: readonly string[], on?: readonly string[]): string => operands.join(` and${matching(on)} `);
/** `a or b or c`. */
export const or = (...operands: string[]): string => operands.join(' or ');
/** `a unless on (labels) b`. */
export const unless = (a: string, b: string, on?: readonly string[]): string => `${a} unless${matching(on)} ${b}`;
