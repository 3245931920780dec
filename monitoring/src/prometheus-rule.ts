/**
 * The prometheus-operator's PrometheusRule for a list of Prometheus rule groups, as they are parsed
 * from a rule file (`groups:`). Free of imports: the mixin's generator calls it on the groups of the
 * files it renders (`obsnest-monitoring generate --prometheus-rule`), and deploy/kubernetes on the
 * groups it reads from the committed files.
 */

/** One recording or alerting rule, as in a Prometheus rule file. */
export interface PrometheusRuleEntry {
  readonly record?: string;
  readonly alert?: string;
  readonly expr: string | number;
  readonly for?: string;
  readonly keep_firing_for?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** One group of a Prometheus rule file. */
export interface PrometheusRuleGroup {
  readonly name: string;
  readonly interval?: string;
  readonly limit?: number;
  readonly query_offset?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly rules: readonly PrometheusRuleEntry[];
}

export interface PrometheusRuleOptions {
  readonly name: string;
  /** Left out when the namespace is set later (kustomize's `namespace:`). */
  readonly namespace?: string;
  /** Labels the Prometheus resource's `ruleSelector` matches on. */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface PrometheusRuleObject {
  readonly apiVersion: 'monitoring.coreos.com/v1';
  readonly kind: 'PrometheusRule';
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly spec: { readonly groups: PrometheusRuleGroup[] };
}

/**
 * Wraps the groups unchanged (a deep copy), so the PrometheusRule evaluates exactly what the rule
 * files do. The operator writes each PrometheusRule to one rule file, and Prometheus refuses a file
 * with two groups of the same name: that is checked here, where the error can say which.
 */
export function prometheusRule(groups: readonly PrometheusRuleGroup[], options: PrometheusRuleOptions): PrometheusRuleObject {
  if (groups.length === 0) throw new Error(`PrometheusRule ${options.name}: no rule groups`);
  const seen = new Set<string>();
  for (const group of groups) {
    if (seen.has(group.name)) {
      throw new Error(
        `PrometheusRule ${options.name}: rule group "${group.name}" appears twice; Prometheus rejects a rule file with repeated group names (split the groups into two PrometheusRules)`,
      );
    }
    seen.add(group.name);
    if (group.rules.length === 0) throw new Error(`PrometheusRule ${options.name}: rule group "${group.name}" has no rules`);
  }
  const metadata = {
    name: options.name,
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    ...(options.labels === undefined ? {} : { labels: { ...options.labels } }),
  };
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata,
    spec: { groups: structuredClone(groups) as PrometheusRuleGroup[] },
  };
}
