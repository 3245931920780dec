import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { contextOf, type MixinConfig, runbookUrl } from './config.js';
import { DASHBOARDS, renderDashboard } from '../grafana/src/dashboards.js';
import { renderPersesDashboard } from '../grafana/src/perses/emit.js';
import { alertGroups, ALERTS_HEADER } from './rules/alerts.js';
import { isAlert, mergeGroups, type RuleDefinition, type RuleGroup, renderRuleFile } from './rules/model.js';
import { RECORDING_HEADER, recordingGroups } from './rules/recording.js';
import { renderAlertmanagerConfig } from './alertmanager.js';
import { renderDashboardProvider, renderDatasources } from './provisioning.js';
import { renderRunbookIndex } from './runbook-index.js';

/**
 * Everything the mixin generates for one config, as paths relative to the output directory
 * (laid out like this repository's monitoring/ folder) and their content.
 */

export const OUTPUT_PATHS = {
  recordingRules: 'prometheus/rules/recording.yml',
  alertRules: 'prometheus/rules/alerts.yml',
  runbookIndex: 'prometheus/rules/RUNBOOK-INDEX.md',
  alertmanager: 'alertmanager/alertmanager.yml',
  dashboardsDir: 'grafana/dashboards',
  /** The same dashboards as Perses resources, for a Perses server or the native viewer. */
  persesDashboardsDir: 'perses/dashboards',
  dashboardProvider: 'grafana/provisioning/dashboards/dashboards.yml',
  datasources: 'grafana/provisioning/datasources/datasources.yml',
} as const;

export interface RuleSet {
  readonly recording: RuleGroup[];
  readonly alerts: RuleGroup[];
}

/** Splits groups by rule kind: Prometheus reads both from any file, but people look for them apart. */
function byKind(groups: readonly RuleGroup[], keep: (rule: RuleDefinition) => boolean): RuleGroup[] {
  return groups.map((group) => ({ ...group, rules: group.rules.filter(keep) })).filter((group) => group.rules.length > 0);
}

function checkRules({ recording, alerts }: RuleSet): void {
  const problems: string[] = [];
  const records = recording.flatMap((group) => group.rules).map((rule) => ('record' in rule ? rule.record : ''));
  for (const name of records.filter((name, index) => records.indexOf(name) !== index)) problems.push(`recording rule ${name} twice`);
  const keys = alerts.flatMap((group) => group.rules.filter(isAlert)).map((rule) => `${rule.alert} (${rule.severity})`);
  for (const key of keys.filter((key, index) => keys.indexOf(key) !== index)) problems.push(`alert ${key} twice at one severity`);
  if (problems.length > 0) throw new Error(`generated rules are inconsistent:\n  ${problems.join('\n  ')}`);
}

/** The recording and alert rules of a config, extensions merged in. */
export function ruleSet(config: MixinConfig): RuleSet {
  const context = contextOf(config);
  const extra = config.extensions.flatMap((extension) => extension.ruleGroups?.(context) ?? []);
  const rules = {
    recording: mergeGroups(
      recordingGroups(config),
      byKind(extra, (rule) => !isAlert(rule)),
    ),
    alerts: mergeGroups(alertGroups(config), byKind(extra, isAlert)),
  };
  checkRules(rules);
  return rules;
}

export function generateFiles(config: MixinConfig): Map<string, string> {
  const { recording, alerts } = ruleSet(config);
  const runbook = (alert: string) => runbookUrl(config.runbookBaseUrl, alert);
  const files = new Map<string, string>([
    [OUTPUT_PATHS.recordingRules, renderRuleFile(RECORDING_HEADER, recording, runbook)],
    [OUTPUT_PATHS.alertRules, renderRuleFile(ALERTS_HEADER, alerts, runbook)],
    [OUTPUT_PATHS.runbookIndex, renderRunbookIndex(config, alerts)],
    [OUTPUT_PATHS.alertmanager, renderAlertmanagerConfig(config)],
    [OUTPUT_PATHS.dashboardProvider, renderDashboardProvider(config)],
    [OUTPUT_PATHS.datasources, renderDatasources(config)],
  ]);
  for (const spec of DASHBOARDS) {
    files.set(`${OUTPUT_PATHS.dashboardsDir}/${spec.file}`, renderDashboard(spec.build(config)));
    // Built again: the SDK's builders are mutated when placed, so each output starts from fresh panels.
    files.set(`${OUTPUT_PATHS.persesDashboardsDir}/${spec.file}`, renderPersesDashboard(spec.build(config)));
  }
  return files;
}

export interface DriftReport {
  /** Generated files whose content on disk differs. */
  readonly changed: string[];
  /** Generated files not on disk. */
  readonly missing: string[];
  /** Dashboard JSON files on disk that nothing generates any more. */
  readonly extra: string[];
}

function strayDashboards(dir: string, files: ReadonlyMap<string, string>): string[] {
  return [OUTPUT_PATHS.dashboardsDir, OUTPUT_PATHS.persesDashboardsDir].flatMap((folder) => {
    let present: string[];
    try {
      present = readdirSync(join(dir, folder)).filter((name) => name.endsWith('.json'));
    } catch {
      return [];
    }
    return present.map((name) => `${folder}/${name}`).filter((path) => !files.has(path));
  });
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function checkFiles(dir: string, files: ReadonlyMap<string, string>): DriftReport {
  const report: DriftReport = { changed: [], missing: [], extra: strayDashboards(dir, files) };
  for (const [path, content] of files) {
    const present = readOrUndefined(join(dir, path));
    if (present === undefined) report.missing.push(path);
    else if (present !== content) report.changed.push(path);
  }
  return report;
}

export const isUpToDate = (report: DriftReport): boolean => report.changed.length + report.missing.length + report.extra.length === 0;

/** Writes every file and removes dashboard JSON nothing generates, so deletions propagate. */
export function writeFiles(dir: string, files: ReadonlyMap<string, string>): string[] {
  for (const stray of strayDashboards(dir, files)) rmSync(join(dir, stray));
  for (const [path, content] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return [...files.keys()];
}

export function describeDrift(report: DriftReport): string[] {
  return [
    ...report.changed.map((file) => `out of date: ${file}`),
    ...report.missing.map((file) => `missing: ${file}`),
    ...report.extra.map((file) => `not generated any more: ${file}`),
  ];
}
