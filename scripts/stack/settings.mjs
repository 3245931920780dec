// @ts-check
// Settings of the native stack: the environment over the .env file (the shared loader,
// scripts/lib/environment.mjs), validated with the stack's own schema (./schema.mjs) and, for the
// API variables the stack reads too, with the API's schema (`@obsnest/api/config`).
import { isAbsolute, resolve } from 'node:path';
import { ConfigurationError, readEnvironment, validate } from '../lib/environment.mjs';
import { API_VARIABLES_READ, STACK_ENV } from './schema.mjs';

export { ConfigurationError as SettingsError };

/** Interfaces that mean "every interface": scrape and probe them through loopback. */
const localAddress = (/** @type {string} */ host) => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);

/**
 * @typedef {object} StackSettings
 * @property {string} root
 * @property {string} runDir
 * @property {string | undefined} envFile the .env file read, if any
 * @property {Record<string, string | undefined>} mergedEnv the environment over the .env file
 * @property {'auto' | 'native' | 'compose'} mode
 * @property {number} readyTimeoutMs
 * @property {number} stopTimeoutMs
 * @property {number} prometheusPort
 * @property {string} prometheusRetention
 * @property {number} alertmanagerPort
 * @property {number} grafanaPort
 * @property {number} dashboardsPort
 * @property {number} nodeExporterPort
 * @property {number} postgresExporterPort
 * @property {number} redisExporterPort
 * @property {number} alertSinkPort
 * @property {string | undefined} alertWebhookUrl
 * @property {string | undefined} alertWebhookUrlFile
 * @property {number} apiReplicas
 * @property {number} apiReplicaBasePort
 * @property {number} loadBalancerMetricsPort
 * @property {number} prometheusReplicas
 * @property {number} alertmanagerReplicas
 * @property {number} alertmanagerClusterPort
 * @property {'auto' | 'victoria-metrics' | 'none'} longTermStore
 * @property {number} victoriaMetricsPort
 * @property {string} victoriaMetricsRetention
 */

/**
 * @typedef {StackSettings & {
 *   apiEnv: Record<string, string | undefined>,
 *   apiEnvNames: string[],
 *   api: { host: string, port: number, probeHost: string, managementHost: string | undefined, managementPort: number | undefined },
 *   apiWorkers: number,
 *   databaseUrl: string | undefined,
 *   redisUrl: string | undefined,
 *   metricsToken: string | undefined,
 * }} Settings
 */

/**
 * The stack's own settings: what `down` and `status` need, without the API being built.
 * @param {string} root
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {StackSettings}
 */
export function loadStackSettings(root, env = process.env) {
  const { values, envFile, problems } = readEnvironment(root, env);
  const stackValues = Object.fromEntries(
    Object.entries(STACK_ENV).map(([name, spec]) => [name, 'environmentOnly' in spec && spec.environmentOnly ? env[name] : values[name]]),
  );
  const s = validate(STACK_ENV, stackValues, problems);
  if (problems.length > 0) throw new ConfigurationError(problems);
  const runDir = /** @type {string} */ (s.RUN_DIR);
  return {
    root,
    runDir: isAbsolute(runDir) ? runDir : resolve(root, runDir),
    envFile,
    mergedEnv: values,
    mode: /** @type {'auto' | 'native' | 'compose'} */ (s.STACK_MODE),
    readyTimeoutMs: /** @type {number} */ (s.STACK_READY_TIMEOUT_MS),
    stopTimeoutMs: /** @type {number} */ (s.STACK_STOP_TIMEOUT_MS),
    prometheusPort: /** @type {number} */ (s.PROMETHEUS_PORT),
    prometheusRetention: /** @type {string} */ (s.PROMETHEUS_RETENTION),
    alertmanagerPort: /** @type {number} */ (s.ALERTMANAGER_PORT),
    grafanaPort: /** @type {number} */ (s.GRAFANA_PORT),
    dashboardsPort: /** @type {number} */ (s.DASHBOARDS_PORT),
    nodeExporterPort: /** @type {number} */ (s.NODE_EXPORTER_PORT),
    postgresExporterPort: /** @type {number} */ (s.POSTGRES_EXPORTER_PORT),
    redisExporterPort: /** @type {number} */ (s.REDIS_EXPORTER_PORT),
    alertSinkPort: /** @type {number} */ (s.ALERT_SINK_PORT),
    alertWebhookUrl: /** @type {string | undefined} */ (s.ALERT_WEBHOOK_URL),
    alertWebhookUrlFile: /** @type {string | undefined} */ (s.ALERT_WEBHOOK_URL_FILE),
    apiReplicas: /** @type {number} */ (s.API_REPLICAS),
    apiReplicaBasePort: /** @type {number} */ (s.API_REPLICA_BASE_PORT),
    loadBalancerMetricsPort: /** @type {number} */ (s.LOAD_BALANCER_METRICS_PORT),
    prometheusReplicas: /** @type {number} */ (s.PROMETHEUS_REPLICAS),
    alertmanagerReplicas: /** @type {number} */ (s.ALERTMANAGER_REPLICAS),
    alertmanagerClusterPort: /** @type {number} */ (s.ALERTMANAGER_CLUSTER_PORT),
    longTermStore: /** @type {'auto' | 'victoria-metrics' | 'none'} */ (s.LONG_TERM_STORE),
    victoriaMetricsPort: /** @type {number} */ (s.VICTORIA_METRICS_PORT),
    victoriaMetricsRetention: /** @type {string} */ (s.VICTORIA_METRICS_RETENTION),
  };
}

/**
 * Everything `up` needs: the stack's settings and the API variables it reads, validated with the
 * API's schema (which needs the API built).
 * @param {string} root
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {Promise<Settings>}
 */
export async function loadSettings(root, env = process.env) {
  const stack = loadStackSettings(root, env);
  /** @type {typeof import('@obsnest/api/config')} */
  let apiConfig;
  try {
    apiConfig = await import('@obsnest/api/config');
  } catch (error) {
    if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new ConfigurationError(['the API is not built: run `npm run up` (it builds first) or `npx tsc -b`']);
  }
  const { ENV } = apiConfig;
  /** @type {string[]} */
  const problems = [];
  const read = validate(Object.fromEntries(API_VARIABLES_READ.map((name) => [name, ENV[name]])), stack.mergedEnv, problems);
  if (problems.length > 0) throw new ConfigurationError(problems);
  const host = /** @type {string} */ (read.HOST);
  const managementPort = /** @type {number | undefined} */ (read.MANAGEMENT_PORT);
  return {
    ...stack,
    apiEnv: stack.mergedEnv,
    apiEnvNames: Object.keys(ENV),
    api: {
      host,
      port: /** @type {number} */ (read.PORT),
      probeHost: localAddress(host),
      managementPort,
      managementHost: managementPort === undefined ? undefined : localAddress(/** @type {string} */ (read.MANAGEMENT_HOST)),
    },
    apiWorkers: /** @type {number} */ (read.API_WORKERS),
    databaseUrl: /** @type {string | undefined} */ (read.DATABASE_URL),
    redisUrl: /** @type {string | undefined} */ (read.REDIS_URL),
    metricsToken: /** @type {string | undefined} */ (read.METRICS_TOKEN),
  };
}
