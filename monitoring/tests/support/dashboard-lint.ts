import { parser } from '@prometheus-io/lezer-promql';

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

/**
 * A lint for the generated dashboard JSON, Grafana's and Perses' (Grafana's dashboard-linter is
 * not obtainable here). Each rule returns findings as `where: what`; a clean dashboard has none.
 *
 * - every PromQL expression parses (@prometheus-io/lezer-promql, the grammar of Prometheus' UI);
 * - every panel has a title, a description and a unit (Perses tables have no unit: columns do);
 * - Grafana panels and queries read the datasource variable, whose default is the provisioned uid;
 * - rate() and irate() windows are `$__rate_interval` (recorded rules need no window);
 * - every `$variable` used is defined by the dashboard or built in;
 * - no two panels overlap on the grid;
 * - a panel that may draw more than one series names them: a legend, or a legend format.
 */

export type Finding = string;

/** Built-in variables of Grafana and Perses, replaced by durations Prometheus accepts before parsing. */
const BUILTIN_DURATIONS: Readonly<Record<string, string>> = {
  __rate_interval: '7777s',
  __interval: '8888s',
  __range: '9999s',
};
const BUILTINS = new Set([...Object.keys(BUILTIN_DURATIONS), '__interval_ms', '__range_s', '__range_ms', '__from', '__to', '__dashboard']);
const RATE_INTERVAL_SENTINEL = BUILTIN_DURATIONS.__rate_interval;

const VARIABLE = /\$\{(\w+)(?::[^}]*)?\}|\$(\w+)/g;

/** Names of the variables an expression uses, built-ins left out. */
export function variablesIn(expr: string): string[] {
  return [...expr.matchAll(VARIABLE)].map((m) => (m[1] ?? m[2]) as string).filter((name) => !BUILTINS.has(name));
}

/** The expression as Prometheus would receive it: built-ins as durations, variables as a word. */
function substituted(expr: string): string {
  return expr.replace(VARIABLE, (_match, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare) as string;
    return BUILTIN_DURATIONS[name] ?? `var_${name}`;
  });
}

export interface ParsedExpr {
  readonly text: string;
  readonly root: SyntaxNode;
  readonly errors: readonly string[];
}

export function parsePromql(expr: string): ParsedExpr {
  const text = substituted(expr);
  const tree = parser.parse(text);
  const errors: string[] = [];
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(`syntax error at ${node.from}: "${text.slice(Math.max(0, node.from - 10), node.to + 10)}"`);
    },
  });
  if (text.trim() === '') errors.push('empty expression');
  return { text, root: tree.topNode, errors };
}

const children = (node: SyntaxNode): SyntaxNode[] => {
  const list: SyntaxNode[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) list.push(child);
  return list;
};

/** Windows of the rate() and irate() calls of an expression, as written. */
function rateWindows(parsed: ParsedExpr): string[] {
  const windows: string[] = [];
  const visit = (node: SyntaxNode): void => {
    if (node.name === 'FunctionCall') {
      const name = parsed.text.slice(node.from, node.to).match(/^\w+/)?.[0];
      if (name === 'rate' || name === 'irate') {
        const matrix = node.getChild('FunctionCallBody')?.getChild('MatrixSelector');
        const duration = matrix?.lastChild;
        if (duration) windows.push(parsed.text.slice(duration.from, duration.to));
      }
    }
    for (const child of children(node)) visit(child);
  };
  visit(parsed.root);
  return windows;
}

/**
 * Whether the expression may return more than one series: a selector, an aggregation by labels
 * (`by (le)` alone is folded by histogram_quantile), or anything built from one of those.
 */
export function mayReturnManySeries(parsed: ParsedExpr): boolean {
  const many = (node: SyntaxNode): boolean => {
    switch (node.name) {
      case 'PromQL':
      case 'ParenExpr':
      case 'UnaryExpr':
      case 'FunctionCallBody':
      case 'BinaryExpr':
      case 'SubqueryExpr':
      case 'OffsetExpr':
        return children(node).some(many);
      case 'VectorSelector':
      case 'MatrixSelector':
        return true;
      case 'AggregateExpr': {
        const modifier = node.getChild('AggregateModifier');
        if (!modifier) return false;
        if (modifier.getChild('Without')) return true;
        const labels = modifier.getChild('GroupingLabels')?.getChildren('LabelName') ?? [];
        return labels.some((label) => parsed.text.slice(label.from, label.to) !== 'le');
      }
      case 'FunctionCall': {
        const body = node.getChild('FunctionCallBody');
        return body ? many(body) : false;
      }
      default:
        return false;
    }
  };
  return many(parsed.root);
}

/** Findings on one expression: parse errors, rate windows, undefined variables. */
export function lintExpr(where: string, expr: string, defined: ReadonlySet<string>): Finding[] {
  const parsed = parsePromql(expr);
  const findings = parsed.errors.map((error) => `${where}: PromQL does not parse: ${error} in ${expr}`);
  if (parsed.errors.length === 0) {
    for (const window of rateWindows(parsed)) {
      if (window !== RATE_INTERVAL_SENTINEL) findings.push(`${where}: rate window [${window}] is not $__rate_interval in ${expr}`);
    }
  }
  for (const name of variablesIn(expr)) if (!defined.has(name)) findings.push(`${where}: uses $${name}, which is not defined`);
  return findings;
}

export interface Rect {
  readonly where: string;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export function overlaps(rects: readonly Rect[]): Finding[] {
  const findings: Finding[] = [];
  for (const [i, a] of rects.entries()) {
    for (const b of rects.slice(i + 1)) {
      if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) findings.push(`${a.where} overlaps ${b.where}`);
    }
  }
  return findings;
}

// ---- Grafana

interface GrafanaTarget {
  expr?: string;
  legendFormat?: string;
  datasource?: { uid?: string };
}
interface GrafanaPanel {
  type: string;
  title?: string;
  description?: string;
  gridPos?: { x: number; y: number; w: number; h: number };
  datasource?: { uid?: string };
  fieldConfig?: { defaults?: { unit?: string } };
  options?: { legend?: { showLegend?: boolean; displayMode?: string } };
  targets?: GrafanaTarget[];
  panels?: GrafanaPanel[];
}
export interface GrafanaDashboardJson {
  uid: string;
  panels?: GrafanaPanel[];
  templating?: { list?: { name: string; type: string; query?: unknown; current?: { value?: unknown } }[] };
}

const hasLegendFormat = (format: string | undefined) => Boolean(format && format !== '__auto');

export function lintGrafana(dashboard: GrafanaDashboardJson, provisionedUid: string): Finding[] {
  const findings: Finding[] = [];
  const variables = dashboard.templating?.list ?? [];
  const defined = new Set(variables.map((variable) => variable.name));
  const datasourceVariable = variables.find((variable) => variable.type === 'datasource');
  if (datasourceVariable?.current?.value !== provisionedUid) {
    findings.push(
      `${dashboard.uid}: the datasource variable defaults to ${String(datasourceVariable?.current?.value)}, not ${provisionedUid}`,
    );
  }
  const readsProvisioned = (uid: string | undefined) =>
    uid === provisionedUid ||
    (datasourceVariable !== undefined && (uid === `\${${datasourceVariable.name}}` || uid === `$${datasourceVariable.name}`));
  for (const variable of variables) {
    if (variable.type !== 'query') continue;
    const match = /^label_values\((.+),\s*\w+\)$/.exec(String(variable.query));
    findings.push(...lintExpr(`${dashboard.uid} / variable ${variable.name}`, match?.[1] ?? String(variable.query), defined));
  }
  const all = (dashboard.panels ?? []).flatMap((panel) => [panel, ...(panel.panels ?? [])]);
  const rects: Rect[] = [];
  for (const panel of all) {
    const where = `${dashboard.uid} / ${panel.title ?? '(untitled)'}`;
    if (panel.gridPos) rects.push({ where, ...panel.gridPos });
    if (panel.type === 'row') continue;
    if (!panel.title) findings.push(`${where}: no title`);
    if (!panel.description) findings.push(`${where}: no description`);
    if (!panel.fieldConfig?.defaults?.unit) findings.push(`${where}: no unit`);
    if (!readsProvisioned(panel.datasource?.uid)) findings.push(`${where}: datasource ${panel.datasource?.uid} is not ${provisionedUid}`);
    const targets = panel.targets ?? [];
    for (const target of targets) {
      if (!readsProvisioned(target.datasource?.uid))
        findings.push(`${where}: query datasource ${target.datasource?.uid} is not ${provisionedUid}`);
      findings.push(...lintExpr(where, target.expr ?? '', defined));
    }
    const many = targets.length > 1 || targets.some((target) => mayReturnManySeries(parsePromql(target.expr ?? '')));
    if (many) findings.push(...grafanaLegendFindings(where, panel));
  }
  return [...findings, ...overlaps(rects)];
}

function grafanaLegendFindings(where: string, panel: GrafanaPanel): Finding[] {
  if (panel.type === 'table') return [];
  if (panel.type === 'timeseries' || panel.type === 'piechart') {
    const legend = panel.options?.legend;
    if (!legend?.showLegend || legend.displayMode === 'hidden') return [`${where}: draws several series without a legend`];
  }
  return (panel.targets ?? []).every((target) => hasLegendFormat(target.legendFormat))
    ? []
    : [`${where}: draws several series, not all of them named by a legend format`];
}

// ---- Perses

interface PersesQuery {
  spec: { plugin: { spec: { query?: string; seriesNameFormat?: string } } };
}
interface PersesPanel {
  spec: {
    display?: { name?: string; description?: string };
    plugin: { kind: string; spec: Record<string, unknown> };
    queries?: PersesQuery[];
  };
}
export interface PersesDashboardJson {
  metadata: { name: string };
  spec: {
    variables?: { spec: { name: string; plugin?: { kind: string; spec: { matchers?: string[] } } } }[];
    panels: Record<string, PersesPanel>;
    layouts: {
      spec: { display?: { title?: string }; items: { x: number; y: number; width: number; height: number; content: { $ref: string } }[] };
    }[];
  };
}

const LEGEND_PLUGINS = new Set(['TimeSeriesChart', 'PieChart']);

function persesUnit(plugin: PersesPanel['spec']['plugin']): string | undefined {
  const spec = plugin.spec as { format?: { unit?: string }; yAxis?: { format?: { unit?: string } } };
  return spec.format?.unit ?? spec.yAxis?.format?.unit;
}

export function lintPerses(dashboard: PersesDashboardJson): Finding[] {
  const uid = dashboard.metadata.name;
  const findings: Finding[] = [];
  const defined = new Set((dashboard.spec.variables ?? []).map((variable) => variable.spec.name));
  for (const variable of dashboard.spec.variables ?? []) {
    for (const matcher of variable.spec.plugin?.spec.matchers ?? []) {
      findings.push(...lintExpr(`${uid} / variable ${variable.spec.name}`, matcher, defined));
    }
  }
  const referenced = new Set<string>();
  for (const layout of dashboard.spec.layouts) {
    const group = layout.spec.display?.title ?? 'top';
    const rects = layout.spec.items.map((item) => {
      const key = item.content.$ref.replace('#/spec/panels/', '');
      referenced.add(key);
      if (!dashboard.spec.panels[key]) findings.push(`${uid}: layout refers to missing panel ${key}`);
      return { where: `${uid} / ${group} / ${key}`, x: item.x, y: item.y, w: item.width, h: item.height };
    });
    findings.push(...overlaps(rects));
  }
  for (const [key, panel] of Object.entries(dashboard.spec.panels)) {
    const where = `${uid} / ${key}`;
    if (!referenced.has(key)) findings.push(`${where}: not placed in any layout`);
    if (!panel.spec.display?.name) findings.push(`${where}: no title`);
    if (!panel.spec.display?.description) findings.push(`${where}: no description`);
    if (panel.spec.plugin.kind !== 'Table' && !persesUnit(panel.spec.plugin)) findings.push(`${where}: no unit`);
    const queries = panel.spec.queries ?? [];
    for (const query of queries) findings.push(...lintExpr(where, query.spec.plugin.spec.query ?? '', defined));
    const many = queries.length > 1 || queries.some((query) => mayReturnManySeries(parsePromql(query.spec.plugin.spec.query ?? '')));
    if (!many || panel.spec.plugin.kind === 'Table') continue;
    if (LEGEND_PLUGINS.has(panel.spec.plugin.kind)) {
      if (!panel.spec.plugin.spec.legend) findings.push(`${where}: draws several series without a legend`);
    } else if (!queries.every((query) => query.spec.plugin.spec.seriesNameFormat)) {
      findings.push(`${where}: draws several series, not all of them named by a series name format`);
    }
  }
  return findings;
}
