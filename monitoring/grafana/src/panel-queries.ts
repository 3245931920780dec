import type { Dashboard, VariableModel } from '@grafana/grafana-foundation-sdk/dashboard';
import type { MixinConfig } from '../../src/config.js';
import { DASHBOARDS, panelsOf } from './dashboards.js';

/**
 * Every PromQL query of a dashboard's panels with the template variables replaced, as Grafana
 * would send it to Prometheus, so tests can run the dashboards' queries against a real server.
 */

export interface PanelQuery {
  /** Dashboard uid. */
  readonly dashboard: string;
  /** Panel title. */
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
  /** Grafana runs the query at the end of the range only (stat, pie and table panels). */
  readonly instant: boolean;
}

/** Values for Grafana's built-in variables. The defaults suit a 15 s scrape interval and 1 h range. */
export interface GrafanaBuiltins {
  readonly rateInterval: string;
  readonly range: string;
  readonly interval: string;
}

export const DEFAULT_BUILTINS: GrafanaBuiltins = { rateInterval: '1m', range: '1h', interval: '15s' };

interface PrometheusTarget {
  readonly expr?: string;
  readonly refId?: string;
  readonly instant?: boolean;
}

/** Backslash-escapes regex metacharacters the way Grafana does for multi-value variables. */
function escapeForRegexMatcher(value: string): string {
  return value.replace(/[\\^$*+?.()|{}[\]]/g, (char) => `\\\\${char}`);
}

function variableValue(variable: VariableModel | undefined, name: string, values: Readonly<Record<string, string>>): string {
  if (!variable) throw new Error(`query uses $${name}, which is not a variable of the dashboard`);
  const given = values[name];
  const regexContext = Boolean(variable.multi || variable.includeAll);
  if (given !== undefined) return regexContext ? escapeForRegexMatcher(given) : given;
  if (variable.includeAll && variable.allValue) return variable.allValue;
  throw new Error(`no value given for $${name}, and it has no "All" value`);
}

/**
 * Substitutes `$name` and `${name}` in `expr`: Grafana built-ins from `builtins`, dashboard
 * variables from `values` (escaped for regex matchers when the variable is multi-value), or the
 * variable's "All" value when none is given.
 */
export function substituteVariables(
  expr: string,
  dashboard: Dashboard,
  values: Readonly<Record<string, string>>,
  builtins: GrafanaBuiltins = DEFAULT_BUILTINS,
): string {
  const variables = new Map((dashboard.templating.list ?? []).map((variable) => [variable.name, variable]));
  const builtin: Record<string, string> = {
    __rate_interval: builtins.rateInterval,
    __range: builtins.range,
    __interval: builtins.interval,
  };
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (_match, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare) as string;
    return builtin[name] ?? variableValue(variables.get(name), name, values);
  });
}

/**
 * The queries of every panel of `dashboard`, variables substituted, e.g.
 * `panelQueries(nestjsBackendDashboard(), { job: 'api', instance: '127.0.0.1:3000' })`.
 * Multi-value variables left out of `values` take their "All" value.
 */
export function panelQueries(
  dashboard: Dashboard,
  values: Readonly<Record<string, string>>,
  builtins: GrafanaBuiltins = DEFAULT_BUILTINS,
): PanelQuery[] {
  return panelsOf(dashboard).flatMap((panel) =>
    ((panel.targets ?? []) as PrometheusTarget[])
      .filter((target) => typeof target.expr === 'string')
      .map((target) => ({
        dashboard: dashboard.uid ?? '',
        panel: panel.title ?? '',
        refId: target.refId ?? '',
        expr: substituteVariables(target.expr as string, dashboard, values, builtins),
        instant: target.instant === true,
      })),
  );
}

/** `panelQueries` over every generated dashboard, built for `config` (the default one if none). */
export function allPanelQueries(
  values: Readonly<Record<string, string>>,
  builtins: GrafanaBuiltins = DEFAULT_BUILTINS,
  config?: MixinConfig,
): PanelQuery[] {
  return DASHBOARDS.flatMap((spec) => panelQueries(spec.build(config), values, builtins));
}
