import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { PROMETHEUS_CONFIG, RULES_DIR } from './paths.js';

/**
 * The committed prometheus.yml targets compose service names. Outside compose (the native stack
 * of scripts/stack.mjs, the live tests) a copy is rendered from it with only targets, paths and,
 * on request, intervals changed. This module is the one place that does it.
 */

export interface ScrapeConfig {
  job_name: string;
  scrape_interval?: string;
  scrape_timeout?: string;
  metrics_path?: string;
  authorization?: { type?: string; credentials_file?: string };
  static_configs: { targets: string[]; labels?: Record<string, string> }[];
  file_sd_configs?: { files: string[]; refresh_interval?: string }[];
  relabel_configs?: unknown[];
}

export interface RemoteWrite {
  readonly url: string;
  /** Labels removed before sending (external labels included), e.g. `replica`, so replicas' copies are one series. */
  readonly dropLabels?: readonly string[];
}

export interface PrometheusConfig {
  global: Record<string, string>;
  rule_files: string[];
  alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  scrape_configs: ScrapeConfig[];
  remote_write?: unknown[];
}

export function readPrometheusConfig(): PrometheusConfig {
  return parse(readFileSync(PROMETHEUS_CONFIG, 'utf8')) as PrometheusConfig;
}

export interface RuntimeOverrides {
  /** New targets per job name; jobs left out keep theirs. */
  readonly targets?: Readonly<Record<string, readonly string[]>>;
  /**
   * Jobs removed from the copy, e.g. the exporters the native stack did not start: a target
   * that can never answer would only fire TargetDown or PostgresDown.
   */
  readonly dropJobs?: readonly string[];
  /** Token file of the api job; null drops the authorization block (no METRICS_TOKEN). */
  readonly credentialsFile?: string | null;
  /** Default: the repository's rule files, by absolute path. */
  readonly ruleFiles?: readonly string[];
  /** Alertmanager addresses; an empty list removes the alerting section. */
  readonly alertmanagers?: readonly string[];
  /**
   * One scrape interval for every job (the api job's own interval and timeout are removed so it
   * inherits it; the timeout becomes the interval). For tests that cannot wait 15 s per sample.
   */
  readonly scrapeInterval?: string;
  /** Rule evaluation interval of the groups without their own `interval`. */
  readonly evaluationInterval?: string;
  /**
   * Jobs whose targets come from a file (file_sd) instead of a static list: Prometheus re-reads the
   * file when it changes, so the native stack changes the number of API replicas without a reload.
   */
  readonly fileSd?: Readonly<Record<string, string>>;
  /** global.external_labels, e.g. `{ replica: 'prometheus-1' }` for Prometheus in HA. */
  readonly externalLabels?: Readonly<Record<string, string>>;
  /** Replaces prometheus.yml's remote_write (compose's store); none: the copy sends nowhere. */
  readonly remoteWrite?: readonly RemoteWrite[];
  /** Jobs of the native stack only (the load balancer), appended as given. */
  readonly extraJobs?: readonly ScrapeConfig[];
}

/** The runtime copy of prometheus.yml as YAML text. Throws on a job name it does not know. */
export function renderPrometheusConfig(overrides: RuntimeOverrides = {}): string {
  const config = readPrometheusConfig();
  const known = new Set(config.scrape_configs.map((job) => job.job_name));
  for (const name of [...Object.keys(overrides.targets ?? {}), ...Object.keys(overrides.fileSd ?? {}), ...(overrides.dropJobs ?? [])]) {
    if (!known.has(name)) throw new Error(`prometheus.yml has no job named "${name}" (jobs: ${[...known].join(', ')})`);
  }
  config.rule_files = [...(overrides.ruleFiles ?? [join(RULES_DIR, '*.yml')])];
  if (overrides.alertmanagers) {
    config.alerting.alertmanagers = overrides.alertmanagers.length ? [{ static_configs: [{ targets: [...overrides.alertmanagers] }] }] : [];
  }
  if (overrides.scrapeInterval) {
    config.global.scrape_interval = overrides.scrapeInterval;
    config.global.scrape_timeout = overrides.scrapeInterval;
  }
  if (overrides.evaluationInterval) config.global.evaluation_interval = overrides.evaluationInterval;
  const global = config.global as Record<string, unknown>;
  if (overrides.externalLabels) global.external_labels = { ...overrides.externalLabels };
  // The committed file writes to compose's store by service name; a copy writes where it is told, or nowhere.
  if (overrides.remoteWrite?.length) {
    config.remote_write = overrides.remoteWrite.map((rw) => ({
      url: rw.url,
      ...(rw.dropLabels?.length ? { write_relabel_configs: [{ action: 'labeldrop', regex: rw.dropLabels.join('|') }] } : {}),
    }));
  } else delete config.remote_write;
  const dropped = new Set(overrides.dropJobs ?? []);
  config.scrape_configs = config.scrape_configs.filter((job) => !dropped.has(job.job_name));
  for (const job of config.scrape_configs) {
    const targets = overrides.targets?.[job.job_name];
    if (targets) job.static_configs = [{ targets: [...targets] }];
    // Several targets of one job on one host: `instance` keeps the port, or they would collide.
    if (targets && targets.length > 1) delete job.relabel_configs;
    const sdFile = overrides.fileSd?.[job.job_name];
    if (sdFile) {
      delete (job as Partial<ScrapeConfig>).static_configs;
      job.file_sd_configs = [{ files: [sdFile] }];
    }
    if (job.authorization && overrides.credentialsFile === null) delete job.authorization;
    else if (job.authorization && overrides.credentialsFile) job.authorization.credentials_file = overrides.credentialsFile;
    if (overrides.scrapeInterval) {
      delete job.scrape_interval;
      delete job.scrape_timeout;
    }
  }
  config.scrape_configs.push(...(overrides.extraJobs ?? []).map((job) => structuredClone(job)));
  return stringify(config);
}
