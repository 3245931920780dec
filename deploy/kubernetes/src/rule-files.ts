import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { PrometheusRuleGroup } from '@obsnest/monitoring/prometheus-rule';

/** The `groups` of a Prometheus rule file, with a clear error when the file has none. */
export function readRuleGroups(path: string): PrometheusRuleGroup[] {
  const parsed: unknown = parse(readFileSync(path, 'utf8'));
  const groups = (parsed as { groups?: unknown } | null)?.groups;
  if (!Array.isArray(groups)) throw new Error(`${path}: expected a Prometheus rule file with a top-level "groups" list`);
  return groups as PrometheusRuleGroup[];
}
