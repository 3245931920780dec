import { METRICS, metricUnion, NODE_RUNTIME_METRICS } from '@obsnest/observability';
import { exporterMetricNames } from '../../grafana/src/scrape-targets.js';
import { ruleSet } from '../../src/generate.js';
import { API_CONFIG, API_METRICS } from '../../src/repo/api.js';

/** Names of the recording rules the generator writes for this repository. */
export const recordingRuleNames = (): string[] =>
  ruleSet(API_CONFIG).recording.flatMap((group) => group.rules.map((rule) => ('record' in rule ? rule.record : '')));

/**
 * Metric names referenced by a PromQL expression, found lexically: strings, label matchers,
 * ranges and label lists are removed, then every identifier that is not a keyword and not
 * followed by `(` (a function or an aggregation) is a metric name. Enough for the queries of this
 * repository; Prometheus itself checks their syntax elsewhere.
 */
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
]);

export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ')
    .replace(/(?<![\w:])\d+(?:\.\d*)?(?:[eE][+-]?\d+)?/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][\w:]*/g)) {
    const word = match[0];
    const rest = stripped.slice((match.index ?? 0) + word.length);
    if (KEYWORDS.has(word.toLowerCase()) || /^\s*\(/.test(rest)) continue;
    names.add(word);
  }
  return [...names];
}

/** The metric of a Grafana `label_values(<selector>, <label>)` variable query. */
export function labelValuesMetric(query: string): string[] {
  const match = /^label_values\((.+),\s*\w+\)$/.exec(query.trim());
  return match ? metricNames(match[1] as string) : [];
}

/** Histogram and summary series are named after their family: `x_bucket` belongs to `x`. */
function family(name: string): string {
  return name.replace(/_(bucket|count|sum)$/, '');
}

/**
 * Names a dashboard or rule may read: the library's and the API's contracts, prom-client's runtime
 * metrics, the exporters' metrics and the recording rules.
 */
export function knownMetricNames(): Set<string> {
  return new Set([
    ...metricUnion(METRICS, API_METRICS).map((metric) => metric.name),
    ...Object.values(NODE_RUNTIME_METRICS),
    ...exporterMetricNames(),
    ...recordingRuleNames(),
  ]);
}

/** The names that are neither known nor a `_bucket`/`_count`/`_sum` series of a known family. */
export function unknownMetricNames(names: readonly string[], known: ReadonlySet<string> = knownMetricNames()): string[] {
  return names.filter((name) => !known.has(name) && !(name !== family(name) && known.has(family(name))));
}
