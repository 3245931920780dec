import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type { Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import type { RuleGroup } from './rules/model.js';

/**
 * The mixin's configuration, in the spirit of the monitoring mixins' `_config`: one object that
 * feeds the recording rules, the alerts, the dashboards, the Alertmanager routing and the runbook
 * index. Every number a rule compares with, every window and every job name is read from here.
 *
 * The types are structural on purpose: the published package's declarations need nothing but
 * this package and its registry dependencies.
 */

export type Severity = 'critical' | 'warning' | 'info';

/** A metric of an application's own contract; `MetricDefinition` of `@obsnest/observability` fits. */
export interface MetricDefinitionLike {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly labelValues?: { readonly [label: string]: readonly string[] | undefined };
  readonly buckets?: readonly number[];
  /** Base unit, for the panel: 'seconds', 'bytes', 'ratio', 'count' or a Grafana unit id. */
  readonly unit?: string;
}

/**
 * A multi-window, multi-burn-rate alert condition (Google SRE workbook): the alert fires when
 * both windows burn the error budget faster than `burnRate`.
 */
export interface BurnRateCondition {
  readonly longWindow: string;
  readonly shortWindow: string;
  readonly burnRate: number;
  readonly severity: 'critical' | 'warning';
}

export interface Objectives {
  /** Length of the SLO period, and the window of the error-budget panels. */
  readonly period: string;
  /** Share of requests answered without a 5xx status. */
  readonly availability: { readonly objective: number };
  /** Share of requests answered within `thresholdSeconds`, a bucket bound of the HTTP histogram. */
  readonly latency: { readonly objective: number; readonly thresholdSeconds: number };
  readonly burnRates: readonly BurnRateCondition[];
  /** `for` of the burn-rate alerts, by severity. */
  readonly burnRateFor: { readonly critical: string; readonly warning: string };
  /**
   * Requests/s below which ratio alerts on HTTP traffic stay silent: one failure out of three
   * requests is 33 % and says nothing about the service.
   */
  readonly minRequestRate: number;
}

/** Thresholds of the alerts; the dashboards draw the same limits. */
export interface Thresholds {
  /** Share of requests answered 5xx. */
  readonly errorRatio: number;
  /** p95 request duration, seconds; a bucket bound of the HTTP histogram keeps p95 exact there. */
  readonly latencyP95Seconds: number;
  /** p99 event loop delay, seconds. */
  readonly eventLoopLagSeconds: number;
  /** V8 heap used / heap limit. */
  readonly heapUsedRatio: { readonly warning: number; readonly critical: number };
  /** Share of finished queue jobs that failed for good. */
  readonly queueFailureRatio: number;
  /** Finished jobs/s below which the failure ratio is not judged. */
  readonly queueMinFinishedRate: number;
  /** Waiting jobs from which a growing backlog alerts. */
  readonly queueBacklogJobs: number;
  /** Process starts within `windows.restarts` that make a crash loop. */
  readonly processRestarts: number;
  /** Share of a file system still free. */
  readonly diskFreeRatio: { readonly warning: number; readonly critical: number };
  /** Share of memory still available. */
  readonly memoryAvailableRatio: { readonly warning: number; readonly critical: number };
}

/** Range windows of the alerts that are not SLO windows (those come from `objectives.burnRates`). */
export interface Windows {
  /** How long a queue backlog must have grown. */
  readonly queueBacklogGrowth: string;
  /** How long without a completed job makes a queue stalled. */
  readonly queueStall: string;
  readonly restarts: string;
  /** Every scrape of this window must find queries waiting for a pool connection. */
  readonly dbPoolSaturation: string;
  /** Window of the monitoring stack's failure counters. */
  readonly monitoringFailures: string;
}

/** Jobs of the infrastructure alerts; `null` leaves a group out. */
export interface Infrastructure {
  readonly postgresJob: string | null;
  readonly redisJob: string | null;
  /** node-exporter alerts (disk, memory). */
  readonly host: boolean;
  /** Target-down, Prometheus and Alertmanager self-monitoring, and the Watchdog. */
  readonly monitoringStack: boolean;
  /** File system types the disk alerts ignore (a regex alternation). */
  readonly ignoredFilesystems: string;
}

/** Timing of one Alertmanager route. */
export interface RouteTiming {
  readonly groupWait: string;
  readonly groupInterval: string;
  readonly repeatInterval: string;
}

/** An Alertmanager receiver: its name and its Alertmanager configuration fields as they are. */
export interface Receiver {
  readonly name: string;
  /** Written above the receiver in alertmanager.yml. */
  readonly comment?: string;
  readonly config?: { readonly [field: string]: unknown };
}

export interface AlertRouting {
  readonly resolveTimeout: string;
  readonly groupBy: readonly string[];
  /** Receiver of what no route below matches. */
  readonly defaultReceiver: string;
  /** The default route's timing. */
  readonly timing: RouteTiming;
  /** Receiver and timing by severity; `info` alerts go to `infoReceiver` only. */
  readonly critical: RouteTiming & { readonly receiver: string };
  readonly warning: RouteTiming & { readonly receiver: string };
  readonly infoReceiver: string;
  /** Receiver of the always-firing Watchdog (a dead man's switch) and how often it repeats. */
  readonly watchdog: { readonly receiver: string; readonly interval: string };
  /** Opt-in channels: an alert with label `notify: <value>` also goes to `receiver`. */
  readonly optIn: readonly { readonly value: string; readonly receiver: string }[];
  /** Labels that must be equal for a critical alert to hide the warning of the same alert. */
  readonly inhibitEqual: readonly string[];
  readonly receivers: readonly Receiver[];
}

export interface GrafanaSettings {
  readonly prometheusUrl: string;
  readonly alertmanagerUrl: string;
  /** Where Grafana reads the dashboard files (the provisioning provider's path). */
  readonly dashboardsPath: string;
  readonly folder: string;
  readonly folderUid: string;
  /** The longest scrape interval: `$__rate_interval` is at least four of these. */
  readonly scrapeInterval: string;
  /**
   * Jaeger's query URL, when the app is traced: a Jaeger datasource, and the latency panels'
   * trace_id exemplars open their traces there. null: no tracing datasources.
   */
  readonly jaegerUrl: string | null;
  /** Loki's URL, when the app's logs are shipped there (with `trace_id` in each line): logs ⇄ traces links. */
  readonly lokiUrl: string | null;
  /**
   * A long-term store with Prometheus' query API that every Prometheus remote-writes to
   * (VictoriaMetrics, Thanos Query, Mimir, …): a second datasource of type prometheus, which the
   * dashboards' `$datasource` picker offers for ranges older than Prometheus' retention. null: none.
   */
  readonly longTermUrl: string | null;
}

/** What an extension's builders get: the resolved config and the job's matcher. */
export interface MixinContext {
  readonly config: MixinConfig;
  /** `job="<job>"`, for the selectors of the extension's rules and panels. */
  readonly jobMatcher: string;
  /** The runbook URL of an alert, from the configured base. */
  readonly runbookUrl: (alertName: string) => string;
}

/**
 * App-specific additions built with the same builders: rule groups (merged into the generated
 * group of the same name, or added after them) and panels of the application dashboard (placed
 * after the queue panels).
 */
export interface MixinExtension {
  readonly name: string;
  readonly ruleGroups?: (context: MixinContext) => readonly RuleGroup[];
  readonly backendPanels?: (context: MixinContext) => readonly cog.Builder<Panel>[];
}

export interface MixinConfig {
  /** Prometheus job of the application; every application rule and alert selects it. */
  readonly job: string;
  /**
   * Base of every alert's runbook URL; the alert name in lower case is appended (after a `#`
   * unless the base ends in `#`, `/`, `=` or `?`).
   */
  readonly runbookBaseUrl: string;
  readonly objectives: Objectives;
  readonly thresholds: Thresholds;
  readonly windows: Windows;
  readonly infrastructure: Infrastructure;
  readonly alerting: AlertRouting;
  readonly grafana: GrafanaSettings;
  /** The application's own metrics: the dashboard draws one panel per metric for them. */
  readonly applicationMetrics: readonly MetricDefinitionLike[];
  readonly extensions: readonly MixinExtension[];
}

type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { readonly [K in keyof T]?: DeepPartial<T[K]> } : T;

/** What a user writes: every field optional, objects merged field by field into the defaults. */
export type MixinConfigInput = DeepPartial<MixinConfig>;

export const WEBHOOK_URL_PLACEHOLDER = 'http://alertmanager-webhook.invalid/set-ALERT_WEBHOOK_URL';

export const DEFAULT_CONFIG: MixinConfig = {
  job: 'api',
  runbookBaseUrl: 'https://github.com/obsnest/observable-nestjs/blob/main/MONITORING.md#',
  objectives: {
    period: '30d',
    availability: { objective: 0.999 },
    latency: { objective: 0.99, thresholdSeconds: 0.5 },
    burnRates: [
      { longWindow: '1h', shortWindow: '5m', burnRate: 14.4, severity: 'critical' },
      { longWindow: '6h', shortWindow: '30m', burnRate: 6, severity: 'critical' },
      { longWindow: '1d', shortWindow: '2h', burnRate: 3, severity: 'warning' },
      { longWindow: '3d', shortWindow: '6h', burnRate: 1, severity: 'warning' },
    ],
    burnRateFor: { critical: '2m', warning: '15m' },
    minRequestRate: 0.1,
  },
  thresholds: {
    errorRatio: 0.05,
    latencyP95Seconds: 0.25,
    eventLoopLagSeconds: 0.2,
    heapUsedRatio: { warning: 0.85, critical: 0.95 },
    queueFailureRatio: 0.1,
    queueMinFinishedRate: 0.01,
    queueBacklogJobs: 100,
    processRestarts: 2,
    diskFreeRatio: { warning: 0.1, critical: 0.05 },
    memoryAvailableRatio: { warning: 0.1, critical: 0.05 },
  },
  windows: {
    queueBacklogGrowth: '15m',
    queueStall: '15m',
    restarts: '30m',
    dbPoolSaturation: '5m',
    monitoringFailures: '5m',
  },
  infrastructure: {
    postgresJob: 'postgres',
    redisJob: 'redis',
    host: true,
    monitoringStack: true,
    ignoredFilesystems: 'tmpfs|ramfs|squashfs|overlay|nsfs|fuse.lxcfs',
  },
  alerting: {
    resolveTimeout: '5m',
    groupBy: ['alertname', 'job', 'instance'],
    defaultReceiver: 'webhook',
    timing: { groupWait: '30s', groupInterval: '5m', repeatInterval: '4h' },
    critical: { receiver: 'webhook', groupWait: '10s', groupInterval: '1m', repeatInterval: '1h' },
    warning: { receiver: 'webhook', groupWait: '1m', groupInterval: '10m', repeatInterval: '12h' },
    infoReceiver: 'blackhole',
    watchdog: { receiver: 'watchdog', interval: '1m' },
    optIn: [
      { value: 'slack', receiver: 'slack' },
      { value: 'email', receiver: 'email' },
    ],
    inhibitEqual: ['alertname', 'job', 'instance', 'mountpoint'],
    receivers: [
      {
        name: 'webhook',
        config: { webhook_configs: [{ url: WEBHOOK_URL_PLACEHOLDER, send_resolved: true }] },
      },
      {
        name: 'watchdog',
        comment:
          "Points nowhere until a dead man's switch is configured, for example:\n" +
          "  webhook_configs: [{ url: 'https://hc-ping.com/<uuid>', send_resolved: false }]\n" +
          '(through render-config.sh if the URL is secret).',
      },
      { name: 'blackhole' },
      {
        name: 'slack',
        comment:
          'Slack incoming webhook. The URL is secret: put it in a file mounted into the container (for\n' +
          'example a compose secret at /run/secrets/slack_api_url) and never in this file.',
        config: {
          slack_configs: [
            {
              api_url_file: '/run/secrets/slack_api_url',
              channel: '#alerts',
              send_resolved: true,
              title:
                '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}',
              text:
                '{{ range .Alerts }}*{{ .Labels.severity }}*: {{ .Annotations.summary }}\n' +
                '{{ .Annotations.description }}\n' +
                '<{{ .Annotations.runbook_url }}|Runbook>\n' +
                '{{ end }}',
            },
          ],
        },
      },
      {
        name: 'email',
        comment:
          'Email through an SMTP relay. Alertmanager 0.25 only takes the SMTP password inline\n' +
          '(`auth_password`); keep it out of the repository by rendering it in at start-up like the\n' +
          'webhook URL, or use `auth_password_file` with Alertmanager 0.27 and later.',
        config: {
          email_configs: [
            {
              to: 'oncall@example.com',
              from: 'alertmanager@example.com',
              smarthost: 'smtp.example.com:587',
              require_tls: true,
              send_resolved: true,
            },
          ],
        },
      },
    ],
  },
  grafana: {
    prometheusUrl: 'http://prometheus:9090',
    alertmanagerUrl: 'http://alertmanager:9093',
    dashboardsPath: '/var/lib/grafana/dashboards',
    folder: 'ObsNest',
    folderUid: 'obsnest',
    scrapeInterval: '15s',
    jaegerUrl: null,
    lokiUrl: null,
    longTermUrl: null,
  },
  applicationMetrics: [],
  extensions: [],
};

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Objects merge field by field; arrays and scalars replace the default. */
function merge(base: unknown, override: unknown): unknown {
  if (override === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = merge(base[key], value);
  return merged;
}

const DURATION = /^(\d+)(ms|s|m|h|d|w|y)$/;
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };

/** Seconds of a single-unit Prometheus duration ('5m' → 300); throws on anything else. */
export function durationSeconds(duration: string): number {
  const match = DURATION.exec(duration);
  if (!match) throw new Error(`"${duration}" is not a Prometheus duration such as 5m, 1h or 30d`);
  return Number(match[1]) * (UNIT_SECONDS[match[2] as string] as number);
}

// A job name lands inside PromQL strings and regexes: keep it to what Prometheus job names are.
const JOB_NAME = /^[A-Za-z0-9_.:-]+$/;

function check(config: MixinConfig): MixinConfig {
  const problems: string[] = [];
  if (!JOB_NAME.test(config.job)) problems.push(`job "${config.job}" must match ${JOB_NAME}`);
  if (!/^https?:\/\/\S+$/.test(config.runbookBaseUrl)) problems.push(`runbookBaseUrl "${config.runbookBaseUrl}" must be an http(s) URL`);
  const { objectives } = config;
  for (const [name, objective] of [
    ['availability', objectives.availability.objective],
    ['latency', objectives.latency.objective],
  ] as const) {
    if (!(objective > 0 && objective < 1)) problems.push(`objectives.${name}.objective must be between 0 and 1, not ${objective}`);
  }
  const windows = [
    objectives.period,
    ...Object.values(config.windows),
    ...objectives.burnRates.flatMap((c) => [c.longWindow, c.shortWindow]),
    ...Object.values(objectives.burnRateFor),
  ];
  for (const window of windows) {
    try {
      durationSeconds(window);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  const receivers = new Set(config.alerting.receivers.map((receiver) => receiver.name));
  const routed = [
    config.alerting.defaultReceiver,
    config.alerting.critical.receiver,
    config.alerting.warning.receiver,
    config.alerting.infoReceiver,
    config.alerting.watchdog.receiver,
    ...config.alerting.optIn.map((channel) => channel.receiver),
  ];
  for (const receiver of routed) if (!receivers.has(receiver)) problems.push(`alerting routes to unknown receiver "${receiver}"`);
  const metricNames = config.applicationMetrics.map((metric) => metric.name);
  for (const name of metricNames.filter((name, index) => metricNames.indexOf(name) !== index)) {
    problems.push(`applicationMetrics names ${name} twice`);
  }
  if (problems.length > 0) throw new Error(`invalid monitoring config:\n  ${problems.join('\n  ')}`);
  return config;
}

/** The defaults with `input` merged in, checked: `defineConfig({ job: 'payments' })`. */
export function defineConfig(input: MixinConfigInput = {}, base: MixinConfig = DEFAULT_CONFIG): MixinConfig {
  return check(merge(base, input) as MixinConfig);
}

/** The context an extension's builders receive. */
export function contextOf(config: MixinConfig): MixinContext {
  return { config, jobMatcher: `job="${config.job}"`, runbookUrl: (alertName) => runbookUrl(config.runbookBaseUrl, alertName) };
}

/**
 * The one mapper from an alert to its runbook: the base, then the alert name in lower case (the
 * anchor GitHub derives from a `### AlertName` heading).
 */
export function runbookUrl(base: string, alertName: string): string {
  const separator = /[#/=?]$/.test(base) ? '' : '#';
  return `${base}${separator}${alertName.toLowerCase()}`;
}
