import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { PROMETHEUS_CONFIG, RULES_DIR } from './paths.js';

/**
 * The committed prometheus.yml targets compose service names. Outside compose (the native stack,
 * a live test) a copy is rendered with only targets and paths changed, which is what this does.
 */

export interface ScrapeConfig {
  job_name: string;
  scrape_interval?: string;
  scrape_timeout?: string;
  metrics_path?: string;
  authorization?: { type?: string; credentials_file?: string };
  static_configs: { targets: string[]; labels?: Record<string, string> }[];
  relabel_configs?: unknown[];
}

export interface PrometheusConfig {
  global: Record<string, string>;
  rule_files: string[];
  alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  scrape_configs: ScrapeConfig[];
}

export function readPrometheusConfig(): PrometheusConfig {
  return parse(readFileSync(PROMETHEUS_CONFIG, 'utf8')) as PrometheusConfig;
}

export interface RuntimeOverrides {
  /** New targets per job name; jobs left out keep theirs. */
  readonly targets?: Readonly<Record<string, readonly string[]>>;
  /** Token file of the api job; null drops the authorization block (no METRICS_TOKEN). */
  readonly credentialsFile?: string | null;
  /** Default: the repository's rule files, by absolute path. */
  readonly ruleFiles?: readonly string[];
  /** Alertmanager addresses; an empty list removes the alerting section. */
  readonly alertmanagers?: readonly string[];
}

export function renderPrometheusConfig(overrides: RuntimeOverrides = {}): string {
  const config = readPrometheusConfig();
  config.rule_files = [...(overrides.ruleFiles ?? [join(RULES_DIR, '*.yml')])];
  if (overrides.alertmanagers) {
    config.alerting.alertmanagers = overrides.alertmanagers.length ? [{ static_configs: [{ targets: [...overrides.alertmanagers] }] }] : [];
  }
  for (const job of config.scrape_configs) {
    const targets = overrides.targets?.[job.job_name];
    if (targets) job.static_configs = [{ targets: [...targets] }];
    if (job.authorization && overrides.credentialsFile === null) delete job.authorization;
    else if (job.authorization && overrides.credentialsFile) job.authorization.credentials_file = overrides.credentialsFile;
  }
  return stringify(config);
}
