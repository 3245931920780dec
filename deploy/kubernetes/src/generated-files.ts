import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { prometheusRules as mixinPrometheusRules, type RuleFileGroups, renderManifests } from '@obsnest/monitoring/kubernetes';
import type { PrometheusRuleObject } from '@obsnest/monitoring/prometheus-rule';
import { dashboardConfigMap } from './dashboard-config-maps.js';
import { BASE_DIR, DASHBOARDS_DIR, REPO_ROOT, RULE_FILES } from './paths.js';
import { readRuleGroups } from './rule-files.js';

/** Labels of every object of the base; the Service's also make the scrape job `api`. */
export const API_LABELS = { 'app.kubernetes.io/name': 'api', 'app.kubernetes.io/part-of': 'obsnest' } as const;

export const PROMETHEUS_RULE_FILE = join(BASE_DIR, 'prometheus-rules.yaml');
export const DASHBOARDS_FILE = join(BASE_DIR, 'grafana-dashboards.yaml');

const header = (sources: string) =>
  `# Generated from ${sources} by deploy/kubernetes/src/generate.ts; do not edit.\n# Regenerate: npm run generate -w @obsnest/kubernetes\n`;

/**
 * The mixin's PrometheusRules (one per rule file) of the committed rule files, with the base's
 * labels: what `obsnest-monitoring generate --prometheus-rule` writes for any job.
 */
export function prometheusRules(files: RuleFileGroups): PrometheusRuleObject[] {
  return mixinPrometheusRules('api', files, { labels: API_LABELS });
}

export function dashboardFiles(): string[] {
  return readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

/** The content of base/prometheus-rules.yaml for the groups of recording.yml and alerts.yml. */
export function prometheusRulesYaml(files: RuleFileGroups): string {
  return renderManifests(header('monitoring/prometheus/rules/{recording,alerts}.yml'), prometheusRules(files));
}

/** The content of base/grafana-dashboards.yaml for dashboard files (name → JSON text). */
export function dashboardsYaml(dashboards: ReadonlyMap<string, string>): string {
  const maps = [...dashboards].map(([file, json]) =>
    dashboardConfigMap({ name: basename(file, '.json'), file, json, labels: API_LABELS, folder: 'obsnest' }),
  );
  return renderManifests(header('monitoring/grafana/dashboards/*.json'), maps);
}

/** Every generated manifest file and its content, from the committed sources. */
export function generatedFiles(): Map<string, string> {
  const dashboards = new Map(dashboardFiles().map((file) => [file, readFileSync(join(DASHBOARDS_DIR, file), 'utf8')]));
  return new Map([
    [
      PROMETHEUS_RULE_FILE,
      prometheusRulesYaml({ recording: readRuleGroups(RULE_FILES.recording), alerts: readRuleGroups(RULE_FILES.alerts) }),
    ],
    [DASHBOARDS_FILE, dashboardsYaml(dashboards)],
  ]);
}

/** Generated files whose committed content differs from what the sources give (or that are missing). */
export function staleFiles(): string[] {
  const stale: string[] = [];
  for (const [path, content] of generatedFiles()) {
    let committed: string | undefined;
    try {
      committed = readFileSync(path, 'utf8');
    } catch {
      committed = undefined;
    }
    if (committed !== content) stale.push(relative(REPO_ROOT, path));
  }
  return stale;
}
