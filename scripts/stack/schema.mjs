// @ts-check
// The stack's own settings: every variable that only the native stack runner (`npm run up`) or
// docker compose reads. The API's variables live in the API's schema (`@obsnest/api/config`);
// the stack also reads a few of those (API_VARIABLES_READ) and validates them with that schema.
// `.env.example` and DEPLOYMENT.md's configuration reference are generated from, or checked
// against, both (scripts/env-reference.mjs).
import { z } from 'zod';

export const STACK_CATEGORIES = /** @type {const} */ (['Stack runner', 'Monitoring services', 'Compose']);

/**
 * @typedef {object} StackVariableSpec
 * @property {(typeof STACK_CATEGORIES)[number]} category
 * @property {'required' | 'optional' | 'recommended'} requirement
 * @property {string} description
 * @property {readonly ('stack' | 'compose')[]} usedBy
 * @property {string} [example]
 * @property {boolean} [secret]
 * @property {string} [howToGenerate]
 * @property {boolean} [environmentOnly] read from the environment only, never from .env
 * @property {z.ZodType} schema
 */

/** Variables of the API's schema that the stack runner reads too. */
export const API_VARIABLES_READ = /** @type {const} */ ([
  'HOST',
  'PORT',
  'API_WORKERS',
  'MANAGEMENT_PORT',
  'MANAGEMENT_HOST',
  'DATABASE_URL',
  'REDIS_URL',
  'METRICS_TOKEN',
]);

const port = (/** @type {number} */ fallback) =>
  z.coerce
    .number({ error: 'expected a port number' })
    .int({ error: 'expected a whole number' })
    .min(1, { error: 'expected a port between 1 and 65535' })
    .max(65535, { error: 'expected a port between 1 and 65535' })
    .default(fallback);

const ms = (/** @type {number} */ fallback, /** @type {number} */ min, /** @type {number} */ max) =>
  z.coerce
    .number({ error: 'expected a number' })
    .int({ error: 'expected a whole number' })
    .min(min, { error: `expected at least ${min}` })
    .max(max, { error: `expected at most ${max}` })
    .default(fallback);

const count = (/** @type {number} */ fallback, /** @type {number} */ max) =>
  z.coerce
    .number({ error: 'expected a number' })
    .int({ error: 'expected a whole number' })
    .min(1, { error: 'expected at least 1' })
    .max(max, { error: `expected at most ${max}` })
    .default(fallback);

const httpUrl = z
  .string()
  .trim()
  .refine(
    (value) => {
      try {
        return ['http:', 'https:'].includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { error: 'expected a URL starting with http:// or https://' },
  );

export const STACK_ENV = /** @type {const} @satisfies {Record<string, StackVariableSpec>} */ ({
  // Stack runner
  ENV_FILE: {
    category: 'Stack runner',
    requirement: 'optional',
    description: 'The .env file that npm run api, npm run up and npm run dev read (relative to the repository root). Environment only.',
    usedBy: ['stack'],
    environmentOnly: true,
    schema: z.string().min(1).default('.env'),
  },
  RUN_DIR: {
    category: 'Stack runner',
    requirement: 'optional',
    description: 'Run directory of the native stack: logs, pid files, rendered configurations, data.',
    usedBy: ['stack'],
    schema: z.string().min(1).default('.run'),
  },
  STACK_MODE: {
    category: 'Stack runner',
    requirement: 'optional',
    description: 'auto (docker compose when a Docker engine answers, native otherwise), native or compose.',
    usedBy: ['stack'],
    schema: z.enum(['auto', 'native', 'compose'], { error: 'expected auto, native or compose' }).default('auto'),
  },
  STACK_READY_TIMEOUT_MS: {
    category: 'Stack runner',
    requirement: 'optional',
    description: 'How long npm run up waits for every service to be ready.',
    usedBy: ['stack'],
    schema: ms(120_000, 1000, 3_600_000),
  },
  STACK_STOP_TIMEOUT_MS: {
    category: 'Stack runner',
    requirement: 'optional',
    description: 'How long npm run down waits after SIGTERM before SIGKILL.',
    usedBy: ['stack'],
    schema: ms(20_000, 100, 600_000),
  },
  NODE_EXPORTER_PORT: {
    category: 'Stack runner',
    requirement: 'optional',
    description: 'Port of the native node-exporter (loopback).',
    usedBy: ['stack'],
    schema: port(9100),
  },
  POSTGRES_EXPORTER_PORT: {
    category: 'Stack runner',
    requirement: 'optional',
    description: 'Port of the native postgres-exporter (loopback; started only with DATABASE_URL).',
    usedBy: ['stack'],
    schema: port(9187),
  },
  REDIS_EXPORTER_PORT: {
    category: 'Stack runner',
    requirement: 'optional',
    description: 'Port of the native redis-exporter (loopback; started only with REDIS_URL).',
    usedBy: ['stack'],
    schema: port(9121),
  },
  ALERT_SINK_PORT: {
    category: 'Stack runner',
    requirement: 'optional',
    description: 'Port of the local alert sink that logs notifications while no ALERT_WEBHOOK_URL is set.',
    usedBy: ['stack'],
    schema: port(9095),
  },
  API_REPLICAS: {
    category: 'Stack runner',
    requirement: 'optional',
    description:
      'How many API processes npm run up starts. Above 1, HAProxy listens on PORT and balances them (sticky cookie for Socket.IO); they need DATABASE_URL and REDIS_URL.',
    usedBy: ['stack'],
    schema: count(1, 16),
  },
  API_REPLICA_BASE_PORT: {
    category: 'Stack runner',
    requirement: 'optional',
    description:
      'With API_REPLICAS above 1: replica i listens on this port + 2(i-1) (loopback), its MANAGEMENT_PORT, when one is set, on the next one.',
    usedBy: ['stack'],
    schema: port(3100),
  },
  LOAD_BALANCER_METRICS_PORT: {
    category: 'Stack runner',
    requirement: 'optional',
    description: "With API_REPLICAS above 1: HAProxy's own Prometheus endpoint (/metrics) and readiness (/ready), loopback.",
    usedBy: ['stack'],
    schema: port(8405),
  },
  // Monitoring services
  PROMETHEUS_PORT: {
    category: 'Monitoring services',
    requirement: 'optional',
    description: 'Prometheus UI and API port on the host.',
    usedBy: ['stack', 'compose'],
    schema: port(9090),
  },
  DASHBOARDS_PORT: {
    category: 'Monitoring services',
    requirement: 'optional',
    description: 'Port of the native dashboard viewer (the Perses dashboards; Grafana has this port in compose).',
    usedBy: ['stack'],
    schema: port(3001),
  },
  PROMETHEUS_RETENTION: {
    category: 'Monitoring services',
    requirement: 'optional',
    description: 'How long Prometheus keeps samples (e.g. 15d, 30d, 90d).',
    usedBy: ['stack', 'compose'],
    schema: z
      .string()
      .regex(/^\d+[smhdwy]$/, { error: 'expected a duration such as 30d' })
      .default('30d'),
  },
  PROMETHEUS_REPLICAS: {
    category: 'Monitoring services',
    requirement: 'optional',
    description:
      'Identical Prometheus servers (native stack), on PROMETHEUS_PORT, PROMETHEUS_PORT+1, …, told apart by the external label replica. Above 1, VictoriaMetrics receives remote_write from all of them.',
    usedBy: ['stack'],
    schema: count(1, 4),
  },
  ALERTMANAGER_PORT: {
    category: 'Monitoring services',
    requirement: 'optional',
    description: 'Alertmanager UI and API port on the host.',
    usedBy: ['stack', 'compose'],
    schema: port(9093),
  },
  ALERTMANAGER_REPLICAS: {
    category: 'Monitoring services',
    requirement: 'optional',
    description:
      'Alertmanagers in one cluster (native stack), on ALERTMANAGER_PORT, ALERTMANAGER_PORT+1, …; every Prometheus sends to all of them and the cluster notifies once.',
    usedBy: ['stack'],
    schema: count(1, 4),
  },
  ALERTMANAGER_CLUSTER_PORT: {
    category: 'Monitoring services',
    requirement: 'optional',
    description:
      'With ALERTMANAGER_REPLICAS above 1: gossip port of the first Alertmanager (loopback), the next ones on the following ports.',
    usedBy: ['stack'],
    schema: port(9394),
  },
  LONG_TERM_STORE: {
    category: 'Monitoring services',
    requirement: 'optional',
    description:
      'auto (VictoriaMetrics when PROMETHEUS_REPLICAS is above 1), victoria-metrics (always) or none: the single-node store every Prometheus remote-writes to, copies deduplicated.',
    usedBy: ['stack'],
    schema: z.enum(['auto', 'victoria-metrics', 'none'], { error: 'expected auto, victoria-metrics or none' }).default('auto'),
  },
  VICTORIA_METRICS_PORT: {
    category: 'Monitoring services',
    requirement: 'optional',
    description: 'VictoriaMetrics HTTP port (loopback): remote_write receiver and Prometheus-compatible query API.',
    usedBy: ['stack'],
    schema: port(8428),
  },
  VICTORIA_METRICS_RETENTION: {
    category: 'Monitoring services',
    requirement: 'optional',
    description: 'How long VictoriaMetrics keeps samples (-retentionPeriod: 12 means months; 90d, 2y also work).',
    usedBy: ['stack', 'compose'],
    schema: z
      .string()
      .regex(/^\d+[hdwy]?$/, { error: 'expected a number of months (12) or a duration such as 90d' })
      .default('12'),
  },
  ALERT_WEBHOOK_URL: {
    category: 'Monitoring services',
    requirement: 'recommended',
    description: 'Where Alertmanager posts notifications (a chat bridge, an incident tool). Unset: a local sink that logs them.',
    usedBy: ['stack', 'compose'],
    secret: true,
    howToGenerate: 'from the receiving service (Slack incoming webhook, PagerDuty, …)',
    schema: httpUrl.optional(),
  },
  ALERT_WEBHOOK_URL_FILE: {
    category: 'Monitoring services',
    requirement: 'optional',
    description: 'Path of a file holding the webhook URL instead of ALERT_WEBHOOK_URL (for secret stores and compose secrets).',
    usedBy: ['stack', 'compose'],
    schema: z.string().min(1).optional(),
  },
  // Compose
  POSTGRES_PASSWORD: {
    category: 'Compose',
    requirement: 'required',
    description: 'Password of the postgres container (docker compose only).',
    usedBy: ['compose'],
    secret: true,
    howToGenerate: 'openssl rand -base64 24',
    schema: z.string().optional(),
  },
  GRAFANA_PORT: {
    category: 'Compose',
    requirement: 'optional',
    description: 'Grafana port on the host (docker compose).',
    usedBy: ['compose'],
    schema: port(3001),
  },
  GRAFANA_ADMIN_USER: {
    category: 'Compose',
    requirement: 'optional',
    description: 'Grafana admin user name (docker compose).',
    usedBy: ['compose'],
    schema: z.string().min(1).default('admin'),
  },
  GRAFANA_ADMIN_PASSWORD: {
    category: 'Compose',
    requirement: 'required',
    description: 'Grafana admin password (docker compose only; there is no default password).',
    usedBy: ['compose'],
    secret: true,
    howToGenerate: 'openssl rand -base64 24',
    schema: z.string().min(12, { error: 'expected at least 12 characters' }).optional(),
  },
});
