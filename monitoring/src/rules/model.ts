import { Document, isMap, isSeq, Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Severity } from '../config.js';
import { formatExpr } from './format.js';

/** The rule files' content as data: what the generator builds and what extensions add. */

export interface AlertDefinition {
  readonly alert: string;
  readonly expr: string;
  /** Always set, so that one bad scrape or evaluation never pages anyone. */
  readonly for: string;
  readonly severity: Severity;
  /** Both describe the firing series with its labels or value. */
  readonly summary: string;
  readonly description: string;
  /** The runbook index's "first thing to check" (taken from the first rule of a name). */
  readonly firstCheck: string;
  /** Labels beside `severity`, e.g. `notify: slack`. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Written above the rule. */
  readonly comment?: string;
}

export interface RecordingDefinition {
  readonly record: string;
  readonly expr: string;
  readonly comment?: string;
}

export type RuleDefinition = AlertDefinition | RecordingDefinition;

export interface RuleGroup {
  readonly name: string;
  /** Evaluation interval, for groups that scan long windows. */
  readonly interval?: string;
  readonly comment?: string;
  readonly rules: readonly RuleDefinition[];
}

export const isAlert = (rule: RuleDefinition): rule is AlertDefinition => 'alert' in rule;

/**
 * Groups of `extra` whose name is already in `groups` append their rules to that group; the
 * others follow, in order.
 */
export function mergeGroups(groups: readonly RuleGroup[], extra: readonly RuleGroup[]): RuleGroup[] {
  const merged = groups.map((group) => ({ ...group, rules: [...group.rules] }));
  for (const group of extra) {
    const existing = merged.find((candidate) => candidate.name === group.name);
    if (existing) existing.rules.push(...group.rules);
    else merged.push({ ...group, rules: [...group.rules] });
  }
  return merged;
}

/** A rule as Prometheus reads it. */
function ruleObject(rule: RuleDefinition, runbookUrl: (alert: string) => string): Record<string, unknown> {
  if (!isAlert(rule)) return { record: rule.record, expr: formatExpr(rule.expr) };
  return {
    alert: rule.alert,
    expr: formatExpr(rule.expr),
    for: rule.for,
    labels: { severity: rule.severity, ...rule.labels },
    annotations: { summary: rule.summary, description: rule.description, runbook_url: runbookUrl(rule.alert) },
  };
}

const LINE_WIDTH = 100;

/** yaml writes `#` and the comment's text: a space after the `#` reads better. */
export const yamlComment = (text: string): string =>
  text
    .split('\n')
    .map((line) => (line ? ` ${line}` : ''))
    .join('\n');

/** Long expressions as literal blocks (never folded mid-PromQL), descriptions as folded ones. */
function styleScalars(rule: YAMLMap): void {
  const expr = rule.get('expr', true);
  const text = expr instanceof Scalar ? String(expr.value) : '';
  if (expr instanceof Scalar && (text.includes('\n') || text.length > LINE_WIDTH - 14)) expr.type = Scalar.BLOCK_LITERAL;
  const annotations = rule.get('annotations', true);
  const description = isMap(annotations) ? annotations.get('description', true) : undefined;
  if (description instanceof Scalar) description.type = Scalar.BLOCK_FOLDED;
}

/** A Prometheus rule file, with the groups' and rules' comments, e.g. `recording.yml`. */
export function renderRuleFile(header: string, groups: readonly RuleGroup[], runbookUrl: (alert: string) => string): string {
  const doc = new Document({
    groups: groups.map((group) => ({
      name: group.name,
      ...(group.interval ? { interval: group.interval } : {}),
      rules: group.rules.map((rule) => ruleObject(rule, runbookUrl)),
    })),
  });
  doc.commentBefore = yamlComment(header);
  const groupNodes = doc.get('groups', true) as YAMLSeq<YAMLMap>;
  groupNodes.items.forEach((groupNode, groupIndex) => {
    const group = groups[groupIndex] as RuleGroup;
    if (group.comment) groupNode.commentBefore = yamlComment(group.comment);
    if (groupIndex > 0) groupNode.spaceBefore = true;
    const ruleNodes = groupNode.get('rules', true);
    if (!isSeq(ruleNodes)) return;
    ruleNodes.items.forEach((ruleNode, ruleIndex) => {
      const rule = group.rules[ruleIndex] as RuleDefinition;
      if (!isMap(ruleNode)) return;
      styleScalars(ruleNode);
      if (rule.comment) ruleNode.commentBefore = yamlComment(rule.comment);
      if (rule.comment || (ruleIndex > 0 && isAlert(rule))) ruleNode.spaceBefore = true;
    });
  });
  return doc.toString({ lineWidth: LINE_WIDTH, indentSeq: true, doubleQuotedMinMultiLineLength: Number.MAX_SAFE_INTEGER });
}
