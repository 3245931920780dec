// @ts-check
// The whole system on this machine: `npm run up`, `npm run down`, `npm run status`.
//
// With a reachable Docker engine, `up` runs `docker compose up -d` with docker-compose.yml.
// Without one, it runs everything natively, from the Debian packages (installed when missing and
// possible): the API, Prometheus, Alertmanager, node-exporter, postgres-exporter (only with
// DATABASE_URL) and redis-exporter (only with REDIS_URL), plus a local alert sink that logs
// notifications to <run dir>/alerts.log while no ALERT_WEBHOOK_URL is set. Each runs detached
// with its log, pid file and record in the run directory, bound to loopback; their configurations
// are rendered there from monitoring/ (only targets and paths differ). Grafana has no Debian
// package: the dashboards need docker compose or a Grafana of your own.
//
//   node scripts/stack.mjs up       start what is not running, wait until ready, print the URLs
//   node scripts/stack.mjs down     stop exactly what `up` started (SIGTERM, then SIGKILL)
//   node scripts/stack.mjs status   what runs, where, and whether it answers
//   node scripts/stack.mjs status --json   the same as one JSON document, for scripts and tests
//
// Settings come from the environment, then from .env at the repository root (the environment
// wins; ENV_FILE names another file), through the loader `npm run api` uses too
// (scripts/lib/environment.mjs). The stack's own variables (RUN_DIR, STACK_MODE, the monitoring
// services' ports…) are defined in scripts/stack/schema.mjs; the API variables it reads (PORT,
// HOST, MANAGEMENT_PORT, METRICS_TOKEN, DATABASE_URL, REDIS_URL…) are validated with the API's schema.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binBuilt, binPath } from './lib/packages.mjs';
import { answers, forget, inspect, portIsFree, recordFiles, startDetached, stop, tail } from './stack/processes.mjs';
import { loadSettings, loadStackSettings, SettingsError } from './stack/settings.mjs';
import { composeCommand, dockerEngineReachable, installMissing } from './stack/system.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const COMPOSE_FILE = join(root, 'docker-compose.yml');

/** Services in start order; `down` stops them in reverse. */
const SERVICES = ['alert-sink', 'api', 'node-exporter', 'postgres-exporter', 'redis-exporter', 'alertmanager', 'prometheus'];

const say = (/** @type {string} */ line) => console.log(`[stack] ${line}`);
const shown = (/** @type {string} */ path) => {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
};
const sha256 = (/** @type {unknown} */ value) => createHash('sha256').update(JSON.stringify(value)).digest('hex');

class StackError extends Error {}

/** Minimal environment for the third-party services: they get nothing of the API's secrets. */
function baseEnv() {
  /** @type {NodeJS.ProcessEnv} */
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: process.env.LANG ?? 'C.UTF-8' };
  if (process.env.TZ) env.TZ = process.env.TZ;
  return env;
}

// ---------------------------------------------------------------------------------------------
// Mode: compose when a Docker engine answers (or STACK_MODE says so), native otherwise.

function modeFile(/** @type {string} */ runDir) {
  return join(runDir, 'mode');
}

/**
 * Whether the last `up` used docker compose (STACK_MODE=native overrides, to clean up natively).
 * @param {import('./stack/settings.mjs').StackSettings} settings
 */
function composeWasUsed({ runDir, mode }) {
  if (mode === 'native' || !existsSync(modeFile(runDir))) return false;
  return readFileSync(modeFile(runDir), 'utf8').trim() === 'compose';
}

/** @param {string[]} args */
function compose(args) {
  const command = composeCommand();
  if (!command) throw new StackError('neither `docker compose` nor `docker-compose` works on this machine');
  const [bin, ...base] = command;
  const result = spawnSync(/** @type {string} */ (bin), [...base, '-f', COMPOSE_FILE, ...args], { cwd: root, stdio: 'inherit' });
  return result.status ?? 1;
}

// ---------------------------------------------------------------------------------------------
// up

/**
 * @typedef {object} Planned
 * @property {string} name
 * @property {readonly string[]} argv
 * @property {NodeJS.ProcessEnv} env
 * @property {string} fingerprint
 * @property {string} url
 * @property {string} readyUrl
 * @property {{ variable: string, host: string, port: number }[]} ports
 * @property {string} [stdoutFile]
 * @property {string} [config] configuration file reloaded in place when it changes: POST /-/reload, or `reloadSignal`
 * @property {boolean} [startLast] started once every other service is ready (the load balancer)
 * @property {NodeJS.Signals} [reloadSignal] how the service reloads `config` (HAProxy: SIGUSR2), instead of POST /-/reload
 * @property {string} [note] printed beside the URL
 */

/** @param {import('./stack/settings.mjs').Settings} settings */
async function plan(settings) {
  const [native, paths, { renderPrometheusConfig }, scale] = await Promise.all([
    import('@obsnest/monitoring/runtime/native'),
    import('@obsnest/monitoring/runtime/paths'),
    import('@obsnest/monitoring/runtime/prometheus-config'),
    import('@obsnest/monitoring/runtime/scale'),
  ]).catch((error) => {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new StackError('monitoring/ is not built: run `npm run up` (it builds first) or `npx tsc -b`');
  });
  const { runDir } = settings;
  const loopback = '127.0.0.1';
  const http = (/** @type {string} */ host, /** @type {number} */ port, path = '') => `http://${native.address(host, port)}${path}`;

  /** @type {Planned[]} */
  const planned = [];
  /** @type {string[]} */
  const skipped = [];

  // Replicas (and the workers of one) share one database and one queue, or they are not one service.
  const scaled = [
    ...(settings.apiReplicas > 1 ? [{ variable: 'API_REPLICAS', value: settings.apiReplicas, what: 'replicas' }] : []),
    ...(settings.apiWorkers > 1 ? [{ variable: 'API_WORKERS', value: settings.apiWorkers, what: 'workers' }] : []),
  ];
  if (scaled.length > 0 && (!settings.databaseUrl || !settings.redisUrl)) {
    const what = scaled.map((s) => s.what).join(' and ');
    const why = [
      ...(settings.databaseUrl
        ? []
        : [
            `DATABASE_URL is not set: each API process would open its own embedded PGlite database (PGlite belongs to one process, its files to one owner), so ${what} would not see each other’s users`,
          ]),
      ...(settings.redisUrl
        ? []
        : [
            `REDIS_URL is not set: each would have its own in-process queue, and Socket.IO events would reach only the clients of the process that emitted them`,
          ]),
    ];
    const set = scaled.map((s) => `${s.variable}=${s.value}`).join(' and ');
    const reset = scaled.map((s) => `${s.variable}=1`).join(' and ');
    throw new StackError(
      `${set} ${scaled.length > 1 ? 'need' : 'needs'} a shared PostgreSQL and Redis:\n  - ${why.join('\n  - ')}\n  Set DATABASE_URL and REDIS_URL, or ${reset}.`,
    );
  }
  const longTermStore =
    settings.longTermStore === 'victoria-metrics' || (settings.longTermStore === 'auto' && settings.prometheusReplicas > 1);

  // Which binaries this run needs, installed first when missing.
  /** @type {import('@obsnest/monitoring/runtime/native').Binary[]} */
  const binaries = ['prometheus', 'alertmanager', 'nodeExporter'];
  if (settings.databaseUrl) binaries.push('postgresExporter');
  if (settings.redisUrl) binaries.push('redisExporter');
  /** @type {{ key: string, binary: string, pkg: string }[]} */
  const needed = binaries.map((key) => ({ key, binary: native.BINARIES[key], pkg: native.DEBIAN_PACKAGES[key] }));
  /** @type {(keyof typeof scale.SCALE_BINARIES)[]} */
  const scaleBinaries = [
    ...(settings.apiReplicas > 1 ? /** @type {const} */ (['haproxy']) : []),
    ...(longTermStore ? /** @type {const} */ (['victoriaMetrics']) : []),
  ];
  needed.push(...scaleBinaries.map((key) => ({ key, binary: scale.SCALE_BINARIES[key], pkg: scale.SCALE_DEBIAN_PACKAGES[key] })));
  const missing = new Set(installMissing(root, needed, say));
  for (const core of [native.BINARIES.prometheus, native.BINARIES.alertmanager, ...scaleBinaries.map((key) => scale.SCALE_BINARIES[key])]) {
    if (missing.has(core)) throw new StackError(`${core} is required and not installed (see above)`);
  }

  const webhook = settings.alertWebhookUrl || settings.alertWebhookUrlFile;
  if (!webhook) {
    const port = settings.alertSinkPort;
    const sink = [process.execPath, paths.WEBHOOK_SINK];
    const env = { ...baseEnv(), ALERT_SINK_HOST: loopback, ALERT_SINK_PORT: String(port) };
    planned.push({
      name: 'alert-sink',
      argv: sink,
      env,
      fingerprint: sha256([sink, port]),
      url: http(loopback, port, '/'),
      readyUrl: http(loopback, port, '/'),
      ports: [{ variable: 'ALERT_SINK_PORT', host: loopback, port }],
      stdoutFile: join(runDir, 'alerts.log'),
      note: `no ALERT_WEBHOOK_URL: notifications are logged to ${shown(join(runDir, 'alerts.log'))}`,
    });
  }

  const { api } = settings;
  if (!binBuilt('@obsnest/api', 'obsnest-api'))
    throw new StackError('the API is not built: run `npm run up` (it builds first) or `npx tsc -b`');
  const apiArgv = [process.execPath, binPath('@obsnest/api', 'obsnest-api')];
  const replicated = settings.apiReplicas > 1;
  // One API: on HOST:PORT as configured. Several: each on its own loopback ports, HAProxy on HOST:PORT.
  const instances = Array.from({ length: settings.apiReplicas }, (_, i) => {
    if (!replicated) {
      return {
        name: 'api',
        host: api.host,
        port: api.port,
        probeHost: api.probeHost,
        managementHost: api.managementHost,
        managementPort: api.managementPort,
      };
    }
    const port = settings.apiReplicaBasePort + 2 * i;
    return {
      name: `api-${i + 1}`,
      host: loopback,
      port,
      probeHost: loopback,
      managementHost: api.managementPort === undefined ? undefined : loopback,
      managementPort: api.managementPort === undefined ? undefined : port + 1,
    };
  });
  /** @type {string[]} */
  const apiMetricsTargets = [];
  for (const instance of instances) {
    const metricsHost = instance.managementPort === undefined ? instance.probeHost : /** @type {string} */ (instance.managementHost);
    const metricsPort = instance.managementPort ?? instance.port;
    apiMetricsTargets.push(native.address(metricsHost, metricsPort));
    /** @type {Record<string, string | undefined>} */
    const env = { ...settings.apiEnv };
    if (replicated) {
      Object.assign(env, { HOST: instance.host, PORT: String(instance.port) });
      if (instance.managementPort !== undefined)
        Object.assign(env, { MANAGEMENT_HOST: instance.managementHost, MANAGEMENT_PORT: String(instance.managementPort) });
      // Readiness turns 503 on SIGTERM; HAProxy checks every second and takes a replica out after
      // two failures: 5 s of drain let it leave the pool while it still accepts.
      env.SHUTDOWN_DRAIN_MS = settings.apiEnv.SHUTDOWN_DRAIN_MS || '5000';
    }
    planned.push({
      name: instance.name,
      argv: apiArgv,
      env,
      // Restarted by `up` when a variable it reads changes, not when unrelated ones do.
      fingerprint: sha256([apiArgv, settings.apiEnvNames.map((name) => [name, env[name] || null])]),
      url: http(instance.probeHost, instance.port),
      readyUrl: http(metricsHost, metricsPort, '/health/ready'),
      ports: [
        { variable: replicated ? 'API_REPLICA_BASE_PORT' : 'PORT', host: instance.host, port: instance.port },
        ...(instance.managementPort === undefined
          ? []
          : [
              {
                variable: replicated ? 'API_REPLICA_BASE_PORT' : 'MANAGEMENT_PORT',
                host: /** @type {string} */ (instance.managementHost),
                port: instance.managementPort,
              },
            ]),
      ],
      note: `metrics ${http(metricsHost, metricsPort, '/metrics')}${settings.metricsToken ? ' (bearer token: METRICS_TOKEN)' : ''}${
        settings.apiWorkers > 1 ? `, ${settings.apiWorkers} cluster workers aggregated` : ''
      }`,
    });
  }
  const haproxyConfig = join(runDir, 'haproxy.cfg');
  const haproxyYaml = () =>
    scale.renderHaproxyConfig({
      bind: { host: api.host, port: api.port },
      metrics: { host: loopback, port: settings.loadBalancerMetricsPort },
      replicas: instances.map((i) => ({ name: i.name, host: i.host, port: i.port, checkPort: i.managementPort })),
    });
  if (replicated) {
    const lb = scale.haproxyCommand(haproxyConfig);
    planned.push({
      name: 'load-balancer',
      argv: lb.argv,
      env: baseEnv(),
      // Not the replicas: a changed list of servers is a reload (SIGUSR2), not a restart.
      fingerprint: sha256(lb.argv),
      url: http(api.probeHost, api.port),
      readyUrl: http(loopback, settings.loadBalancerMetricsPort, lb.readyPath),
      ports: [
        { variable: 'PORT', host: api.host, port: api.port },
        { variable: 'LOAD_BALANCER_METRICS_PORT', host: loopback, port: settings.loadBalancerMetricsPort },
      ],
      config: haproxyConfig,
      reloadSignal: 'SIGUSR2',
      startLast: true,
      note: `HAProxy over ${instances.length} replicas (sticky cookie ${scale.STICKY_COOKIE}); its metrics ${http(loopback, settings.loadBalancerMetricsPort, '/metrics')}`,
    });
  }

  /** @param {string} name @param {string} variable @param {number} port @param {import('@obsnest/monitoring/runtime/native').Command} command */
  const exporter = (name, variable, port, command) =>
    planned.push({
      name,
      argv: command.argv,
      env: { ...baseEnv(), ...command.env },
      fingerprint: sha256([command.argv, command.env]),
      url: http(loopback, port, '/metrics'),
      readyUrl: http(loopback, port, command.readyPath),
      ports: [{ variable, host: loopback, port }],
    });
  if (missing.has(native.BINARIES.nodeExporter)) skipped.push(`node-exporter: ${native.BINARIES.nodeExporter} is not installed`);
  else
    exporter(
      'node-exporter',
      'NODE_EXPORTER_PORT',
      settings.nodeExporterPort,
      native.nodeExporterCommand(loopback, settings.nodeExporterPort),
    );
  if (!settings.databaseUrl) skipped.push('postgres-exporter: DATABASE_URL is not set (the API uses its embedded database)');
  else if (missing.has(native.BINARIES.postgresExporter))
    skipped.push(`postgres-exporter: ${native.BINARIES.postgresExporter} is not installed`);
  else {
    const port = settings.postgresExporterPort;
    exporter('postgres-exporter', 'POSTGRES_EXPORTER_PORT', port, native.postgresExporterCommand(loopback, port, settings.databaseUrl));
  }
  if (!settings.redisUrl) skipped.push('redis-exporter: REDIS_URL is not set (the API uses its in-process queue)');
  else if (missing.has(native.BINARIES.redisExporter)) skipped.push(`redis-exporter: ${native.BINARIES.redisExporter} is not installed`);
  else
    exporter(
      'redis-exporter',
      'REDIS_EXPORTER_PORT',
      settings.redisExporterPort,
      native.redisExporterCommand(loopback, settings.redisExporterPort, settings.redisUrl),
    );

  const amConfig = join(runDir, 'alertmanager.yml');
  const amCount = settings.alertmanagerReplicas;
  const amName = (/** @type {number} */ i) => (amCount === 1 ? 'alertmanager' : `alertmanager-${i + 1}`);
  const gossip = Array.from({ length: amCount }, (_, i) => native.address(loopback, settings.alertmanagerClusterPort + i));
  for (let i = 0; i < amCount; i++) {
    const port = settings.alertmanagerPort + i;
    const am = native.alertmanagerCommand({
      configFile: amConfig,
      storageDir: join(runDir, amCount === 1 ? 'alertmanager-data' : `${amName(i)}-data`),
      host: loopback,
      port,
      ...(amCount > 1 ? { cluster: { listen: /** @type {string} */ (gossip[i]), peers: gossip.filter((_, j) => j !== i) } } : {}),
    });
    planned.push({
      name: amName(i),
      argv: am.argv,
      env: baseEnv(),
      fingerprint: sha256(am.argv),
      url: http(loopback, port),
      readyUrl: http(loopback, port, am.readyPath),
      ports: [
        { variable: 'ALERTMANAGER_PORT', host: loopback, port },
        ...(amCount > 1 ? [{ variable: 'ALERTMANAGER_CLUSTER_PORT', host: loopback, port: settings.alertmanagerClusterPort + i }] : []),
      ],
      config: amConfig,
      ...(amCount > 1 ? { note: `cluster of ${amCount}, gossip on ${gossip[i]}` } : {}),
    });
  }

  const vmPort = settings.victoriaMetricsPort;
  if (longTermStore) {
    const vm = scale.victoriaMetricsCommand({
      dataDir: join(runDir, 'victoria-metrics-data'),
      host: loopback,
      port: vmPort,
      retention: settings.victoriaMetricsRetention,
      dedupInterval: '15s',
    });
    planned.push({
      name: 'victoria-metrics',
      argv: vm.argv,
      env: baseEnv(),
      fingerprint: sha256(vm.argv),
      url: http(loopback, vmPort),
      readyUrl: http(loopback, vmPort, vm.readyPath),
      ports: [{ variable: 'VICTORIA_METRICS_PORT', host: loopback, port: vmPort }],
      note: `long-term store (retention ${settings.victoriaMetricsRetention}), Prometheus query API at ${http(loopback, vmPort, '/prometheus')}`,
    });
  }

  const promCount = settings.prometheusReplicas;
  const promName = (/** @type {number} */ i) => (promCount === 1 ? 'prometheus' : `prometheus-${i + 1}`);
  /** @type {string[]} */
  const promConfigs = [];
  for (let i = 0; i < promCount; i++) {
    const port = settings.prometheusPort + i;
    const configFile = join(runDir, promCount === 1 ? 'prometheus.yml' : `${promName(i)}.yml`);
    promConfigs.push(configFile);
    const prom = native.prometheusCommand({
      configFile,
      dataDir: join(runDir, promCount === 1 ? 'prometheus-data' : `${promName(i)}-data`),
      host: loopback,
      port,
      retention: settings.prometheusRetention,
      enableLifecycle: true,
    });
    planned.push({
      name: promName(i),
      argv: prom.argv,
      env: baseEnv(),
      fingerprint: sha256(prom.argv),
      url: http(loopback, port),
      readyUrl: http(loopback, port, prom.readyPath),
      ports: [{ variable: 'PROMETHEUS_PORT', host: loopback, port }],
      config: configFile,
      note: `targets ${http(loopback, port, '/targets')}, alerts ${http(loopback, port, '/alerts')}`,
    });
  }

  // The Perses dashboards, drawn by the native viewer; it proxies /api/v1 to Prometheus, which stays on loopback.
  if (!binBuilt('@obsnest/dashboards-viewer', 'obsnest-dashboards'))
    throw new StackError('the dashboard viewer is not built: run `npm run up` (it builds first) or `npx tsc -b`');
  const viewerArgv = [
    process.execPath,
    binPath('@obsnest/dashboards-viewer', 'obsnest-dashboards'),
    '--host',
    loopback,
    '--port',
    String(settings.dashboardsPort),
    '--prometheus-url',
    http(loopback, settings.prometheusPort),
    // Perses derives $__rate_interval from it, as Grafana does from the datasource's.
    '--scrape-interval',
    '15s',
    // Queries reading back further than Prometheus keeps samples are answered by the store.
    ...(longTermStore ? ['--long-term-url', http(loopback, vmPort), '--long-term-after', settings.prometheusRetention] : []),
  ];
  planned.push({
    name: 'dashboards',
    argv: viewerArgv,
    env: baseEnv(),
    fingerprint: sha256(viewerArgv),
    url: http(loopback, settings.dashboardsPort, '/d/nestjs-backend'),
    readyUrl: http(loopback, settings.dashboardsPort, '/healthz'),
    ports: [{ variable: 'DASHBOARDS_PORT', host: loopback, port: settings.dashboardsPort }],
    note: `index ${http(loopback, settings.dashboardsPort, '/')}${longTermStore ? `; ranges beyond ${settings.prometheusRetention} from the long-term store` : ''}`,
  });

  // Every port once: two services on one port would make the second fail obscurely.
  /** @type {Map<number, string>} */
  const byPort = new Map();
  for (const { variable, port } of planned.flatMap((p) => p.ports)) {
    const other = byPort.get(port);
    if (other) throw new StackError(`${other} and ${variable} are both ${port}: give each service its own port`);
    byPort.set(port, variable);
  }

  // Scrape targets: the services started, by job; the jobs of the others are dropped.
  /** @type {Record<string, string>} */
  const jobOfService = {
    prometheus: 'prometheus',
    alertmanager: 'alertmanager',
    'node-exporter': 'node',
    'postgres-exporter': 'postgres',
    'redis-exporter': 'redis',
  };
  /** @type {Record<string, string[]>} */
  const targets = {};
  /** @type {string[]} */
  const dropJobs = [];
  for (const [service, job] of Object.entries(jobOfService)) {
    const listens = planned.filter((s) => groupOf(s.name) === service).map((s) => /** @type {Planned['ports'][number]} */ (s.ports[0]));
    if (listens.length > 0) targets[job] = listens.map((listen) => native.address(listen.host, listen.port));
    else dropJobs.push(job);
  }
  // The API's targets from a file Prometheus watches: another API_REPLICAS is a rewrite, no reload.
  const apiTargetsFile = join(runDir, 'api-targets.json');
  const apiTargetsJson = () => `${JSON.stringify([{ targets: apiMetricsTargets, labels: {} }], null, 2)}\n`;
  const prometheusYaml = (/** @type {number} */ i) =>
    renderPrometheusConfig({
      targets,
      fileSd: { api: apiTargetsFile },
      dropJobs,
      credentialsFile: settings.metricsToken ? join(runDir, 'metrics_token') : null,
      alertmanagers: targets.alertmanager ?? [],
      ...(promCount > 1 ? { externalLabels: { replica: promName(i) } } : {}),
      // The replicas' copies become one series in the store: `replica` is dropped on the way, and
      // VictoriaMetrics keeps one sample per 15 s (-dedup.minScrapeInterval) of the two.
      ...(longTermStore ? { remoteWrite: [{ url: http(loopback, vmPort, '/api/v1/write'), dropLabels: ['replica'] }] } : {}),
      extraJobs: replicated
        ? [{ job_name: 'haproxy', static_configs: [{ targets: [native.address(loopback, settings.loadBalancerMetricsPort)] }] }]
        : [],
    });

  const sinkUrl = planned.find((p) => p.name === 'alert-sink')?.url;
  return {
    planned,
    skipped,
    prometheusYaml,
    promConfigs,
    apiTargetsFile,
    apiTargetsJson,
    haproxyConfig: replicated ? haproxyConfig : undefined,
    haproxyYaml,
    amConfig,
    renderScript: paths.ALERTMANAGER_RENDER_SCRIPT,
    alertmanagerTemplate: paths.ALERTMANAGER_CONFIG,
    sinkUrl,
  };
}

/** Writes `content` to `file` (owner-only), returning whether it changed. */
function writeIfChanged(/** @type {string} */ file, /** @type {string} */ content) {
  const before = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (before === content) return false;
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
  return true;
}

/**
 * Renders the runtime configurations; returns the files whose content changed.
 * @param {import('./stack/settings.mjs').Settings} settings @param {Awaited<ReturnType<typeof plan>>} p
 */
function renderConfigs(settings, p) {
  const changed = new Set();
  const tokenFile = join(settings.runDir, 'metrics_token');
  if (settings.metricsToken) writeIfChanged(tokenFile, settings.metricsToken);
  else rmSync(tokenFile, { force: true });

  // The same script as the compose entrypoint, writing to a temporary file first so an
  // unchanged configuration is not rewritten (and Alertmanager not reloaded).
  const rendered = `${p.amConfig}.new`;
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...baseEnv(), ALERTMANAGER_CONFIG_TEMPLATE: p.alertmanagerTemplate, ALERTMANAGER_CONFIG: rendered };
  if (settings.alertWebhookUrlFile) env.ALERT_WEBHOOK_URL_FILE = resolve(root, settings.alertWebhookUrlFile);
  else env.ALERT_WEBHOOK_URL = settings.alertWebhookUrl ?? p.sinkUrl;
  const result = spawnSync('sh', [p.renderScript], { env, encoding: 'utf8' });
  if (result.status !== 0) throw new StackError(`could not render alertmanager.yml: ${result.stderr.trim() || result.error?.message}`);
  if (writeIfChanged(p.amConfig, readFileSync(rendered, 'utf8'))) changed.add(p.amConfig);
  rmSync(rendered, { force: true });

  p.promConfigs.forEach((file, i) => {
    if (writeIfChanged(file, p.prometheusYaml(i))) changed.add(file);
  });
  writeIfChanged(p.apiTargetsFile, p.apiTargetsJson());
  if (p.haproxyConfig && writeIfChanged(p.haproxyConfig, p.haproxyYaml())) changed.add(p.haproxyConfig);
  return changed;
}

/** The process listening on a TCP port, for error messages (best effort, needs ss). */
function portOwner(/** @type {number} */ port) {
  const result = spawnSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8', timeout: 3000 });
  const match = /users:\(\("([^"]+)",pid=(\d+)/.exec(result.stdout ?? '');
  return match ? ` (${match[1]}, pid ${match[2]})` : '';
}

/** Exclusive lock on the run directory, so two `up`/`down` never interleave. */
function lock(/** @type {string} */ runDir) {
  const file = join(runDir, 'stack.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(file, 'utf8').trim());
      const alive = Number.isInteger(holder) && holder > 1 && existsSync(`/proc/${holder}`) && holder !== process.pid;
      if (alive && readFileSync(`/proc/${holder}/cmdline`, 'utf8').includes('stack.mjs')) {
        throw new StackError(`another \`stack.mjs\` (pid ${holder}) is working on ${shown(runDir)}; wait for it to finish`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new StackError(`could not lock ${shown(runDir)}`);
}

async function up() {
  const settings = await loadSettings(root);
  const mode = settings.mode === 'auto' ? (dockerEngineReachable() ? 'compose' : 'native') : settings.mode;
  mkdirSync(settings.runDir, { recursive: true, mode: 0o700 });
  if (mode === 'compose') {
    say(
      `${settings.mode === 'compose' ? 'STACK_MODE=compose' : 'a Docker engine answers'}: starting docker-compose.yml (STACK_MODE=native runs natively instead)`,
    );
    const status = compose(['up', '-d']);
    // Remembered for `down` and `status`, also after a partial start.
    writeFileSync(modeFile(settings.runDir), 'compose\n');
    if (status === 0) {
      say(
        `API http://127.0.0.1:${settings.api.port}  Prometheus http://127.0.0.1:${settings.prometheusPort}  Alertmanager http://127.0.0.1:${settings.alertmanagerPort}  Grafana http://127.0.0.1:${settings.grafanaPort}`,
      );
    }
    return status;
  }
  say(
    `no Docker engine${settings.mode === 'native' ? ' wanted (STACK_MODE=native)' : ' reachable'}: running natively, state in ${shown(settings.runDir)}`,
  );
  if (settings.envFile) say(`settings from the environment and ${shown(settings.envFile)}`);
  if (existsSync(modeFile(settings.runDir))) {
    say('the previous `up` used docker compose: `docker compose down` stops what may remain of it');
    rmSync(modeFile(settings.runDir), { force: true });
  }
  const unlock = lock(settings.runDir);
  try {
    return await upNative(settings);
  } finally {
    unlock();
  }
}

/** @param {import('./stack/settings.mjs').Settings} settings */
async function upNative(settings) {
  const { runDir } = settings;
  const p = await plan(settings);
  const plannedNames = new Set(p.planned.map((s) => s.name));
  const stopTimeout = settings.stopTimeoutMs;

  // Converge: stop what runs but is no longer wanted, or runs with another configuration.
  /** @type {Planned[]} */
  const toStart = [];
  /** @type {Map<string, string>} */
  const outcome = new Map();
  for (const name of [...new Set([...p.planned.map((s) => s.name), ...SERVICES, ...recordedNames(runDir)])]) {
    const found = inspect(runDir, name);
    const wanted = p.planned.find((s) => s.name === name);
    if (found.state === 'stale') forget(runDir, name);
    if (found.state === 'running' && !plannedNames.has(name)) {
      say(`${name}: no longer wanted, ${await stop(runDir, name, stopTimeout)}`);
      continue;
    }
    if (!wanted) continue;
    if (found.state === 'running' && found.record.fingerprint === wanted.fingerprint) {
      outcome.set(name, `already running (pid ${found.record.pid})`);
      continue;
    }
    if (found.state === 'running') say(`${name}: settings changed, restarting: ${await stop(runDir, name, stopTimeout)}`);
    toStart.push(wanted);
  }

  // Ports before anything starts: fail with a clear message rather than half a stack.
  /** @type {string[]} */
  const conflicts = [];
  for (const service of toStart) {
    for (const { variable, host, port } of service.ports) {
      if (!(await portIsFree(host, port))) {
        conflicts.push(
          `${variable}=${port}: ${host}:${port} is already in use by another program${portOwner(port)}; stop it or set ${variable} to a free port`,
        );
      }
    }
  }
  if (conflicts.length > 0) throw new StackError(`cannot start ${toStart.map((s) => s.name).join(', ')}:\n  - ${conflicts.join('\n  - ')}`);

  const changedConfigs = renderConfigs(settings, p);

  /** @type {{ service: Planned, exited: Promise<string>, pid: number }[]} */
  const launched = [];
  const launch = (/** @type {Planned[]} */ services) => {
    for (const service of services) {
      const { record, exited } = startDetached({
        runDir,
        name: service.name,
        argv: service.argv,
        env: service.env,
        cwd: root,
        fingerprint: service.fingerprint,
        url: service.url,
        readyUrl: service.readyUrl,
        stdoutFile: service.stdoutFile,
      });
      launched.push({ service, exited, pid: record.pid });
    }
  };
  launch(toStart.filter((s) => !s.startLast));

  // Running Prometheus and Alertmanager pick a changed configuration up without a restart.
  for (const service of p.planned) {
    if (!service.config || !changedConfigs.has(service.config) || toStart.includes(service)) continue;
    if (service.reloadSignal) {
      const found = inspect(runDir, service.name);
      if (found.state === 'running') process.kill(found.record.pid, service.reloadSignal);
      say(`${service.name}: configuration changed, ${found.state === 'running' ? `reloaded (${service.reloadSignal})` : 'not running'}`);
      continue;
    }
    const response = await fetch(new URL('/-/reload', service.url), { method: 'POST', signal: AbortSignal.timeout(10_000) }).catch(
      (e) => e,
    );
    say(
      `${service.name}: configuration changed, ${response instanceof Response && response.ok ? 'reloaded' : `reload failed (${response instanceof Response ? response.status : response})`}`,
    );
  }

  // Everything ready, or the reasons why not.
  const deadline = Date.now() + settings.readyTimeoutMs;
  const failures = /** @type {string[]} */ ([]);
  const waitReady = (/** @type {Planned[]} */ services) =>
    Promise.all(
      services.map(async (service) => {
        const launch = launched.find((l) => l.service === service);
        /** @type {string | undefined} */
        let ended;
        launch?.exited.then((why) => {
          ended = why;
        });
        while (Date.now() < deadline) {
          if (ended) break;
          if (await answers(service.readyUrl, 2000)) {
            if (launch) outcome.set(service.name, `started (pid ${launch.pid})`);
            return;
          }
          await new Promise((r) => setTimeout(r, 250));
        }
        const log = recordFiles(runDir, service.name).log;
        failures.push(
          `${service.name}: ${ended ?? `not ready at ${service.readyUrl} after ${Math.round(settings.readyTimeoutMs / 1000)} s`}\n` +
            `    last lines of ${shown(log)}:\n${tail(log)
              .split('\n')
              .map((l) => `      ${l}`)
              .join('\n')}`,
        );
      }),
    );
  await waitReady(p.planned.filter((s) => !s.startLast));
  // The load balancer once its servers answer: started earlier, it would mark them down and be
  // unready again for a few checks after `up` has reported it ready.
  if (failures.length === 0) {
    launch(toStart.filter((s) => s.startLast));
    await waitReady(p.planned.filter((s) => s.startLast));
  }
  if (failures.length > 0) {
    for (const { service } of launched) await stop(runDir, service.name, stopTimeout);
    throw new StackError(`the stack did not come up (what this run started is stopped again):\n  ${failures.join('\n  ')}`);
  }

  const width = Math.max(...p.planned.map((s) => s.name.length));
  const vm = p.planned.find((s) => s.name === 'victoria-metrics');
  say('ready:');
  for (const service of p.planned) {
    console.log(`  ${service.name.padEnd(width)}  ${service.url.padEnd(30)}  ${outcome.get(service.name) ?? ''}`);
    if (service.note) console.log(`  ${''.padEnd(width)}  ${service.note}`);
  }
  for (const line of p.skipped) console.log(`  skipped ${line}`);
  console.log(
    '  grafana: no Debian package, so not started natively; the dashboards service draws the same dashboards\n' +
      '           (Perses). Grafana runs in docker compose (port GRAFANA_PORT), or add a Grafana of your own with\n' +
      `           ${p.planned.find((s) => groupOf(s.name) === 'prometheus')?.url} as its Prometheus data source` +
      (vm ? `\n           and ${vm.url} as a second one for long ranges (the dashboards' Data source picker).` : '.'),
  );
  say(`logs in ${shown(runDir)}/*.log; stop everything with \`npm run down\``);
  return 0;
}

/** The service a name belongs to: api-2 → api, prometheus-1 → prometheus. */
function groupOf(/** @type {string} */ name) {
  return name.replace(/-\d+$/, '');
}

/** Services with a record in the run directory, known or not (an older version may have started others). */
function recordedNames(/** @type {string} */ runDir) {
  if (!existsSync(runDir)) return [];
  return readdirSync(runDir)
    .filter((file) => file.endsWith('.pid'))
    .map((file) => file.slice(0, -'.pid'.length));
}

// ---------------------------------------------------------------------------------------------
// down and status: plain reads of the run directory, no build needed.

async function down() {
  const settings = loadStackSettings(root);
  const { runDir } = settings;
  if (!existsSync(runDir)) {
    say('nothing to stop');
    return 0;
  }
  if (composeWasUsed(settings)) {
    const status = compose(['down']);
    if (status === 0) rmSync(modeFile(runDir), { force: true });
    return status;
  }
  const unlock = lock(runDir);
  try {
    const names = [...new Set([...SERVICES, ...recordedNames(runDir)])].reverse();
    const timeout = settings.stopTimeoutMs;
    const results = await Promise.all(names.map(async (name) => [name, await stop(runDir, name, timeout)]));
    let any = false;
    for (const [name, result] of results) {
      if (result === 'not running') continue;
      any = true;
      console.log(`  ${String(name).padEnd(18)} ${result}`);
    }
    rmSync(join(runDir, 'metrics_token'), { force: true });
    say(any ? 'stopped' : 'nothing was running');
    return results.some(([, result]) => String(result).includes('survived')) ? 1 : 0;
  } finally {
    unlock();
  }
}

/**
 * One service as `status` reports it. `ready` is checked live (its readiness URL answers 2xx);
 * `url`, `pid` and `since` are null for a service that does not run.
 * @typedef {{ name: string, group: string, running: boolean, ready: boolean, url: string | null, pid: number | null, since: string | null, note?: string }} ServiceStatus
 */

/** @param {string} runDir @returns {Promise<ServiceStatus[]>} */
function serviceStatuses(runDir) {
  const recorded = recordedNames(runDir);
  // `api` is not "stopped" while api-1…api-N run in its place.
  const replaced = new Set(recorded.filter((name) => groupOf(name) !== name).map(groupOf));
  const names = [...new Set([...SERVICES.filter((name) => !replaced.has(name)), ...recorded])];
  return Promise.all(
    names.map(async (name) => {
      const found = inspect(runDir, name);
      if (found.state !== 'running') {
        const note = found.state === 'stale' ? `stale record: ${found.reason}` : undefined;
        return { name, group: groupOf(name), running: false, ready: false, url: null, pid: null, since: null, ...(note ? { note } : {}) };
      }
      const { pid, url, readyUrl, startedAt } = found.record;
      const probe = readyUrl ?? url;
      return {
        name,
        group: groupOf(name),
        running: true,
        ready: probe ? await answers(probe, 1500) : false,
        url: url ?? null,
        pid,
        since: startedAt ?? null,
      };
    }),
  );
}

async function status() {
  const settings = loadStackSettings(root);
  const { runDir, mode } = settings;
  const json = process.argv.slice(3).includes('--json');
  if (composeWasUsed(settings)) {
    if (json) throw new StackError('--json describes the native stack; under docker compose use `docker compose ps --format json`');
    return compose(['ps']);
  }
  const services = await serviceStatuses(runDir);
  const running = services.filter((s) => s.running).length;
  if (json) {
    console.log(JSON.stringify({ mode: 'native', runDir, running, services }, null, 2));
    return 0;
  }
  say(`${running} of ${services.length} services running (run directory ${shown(runDir)}, ${mode} mode)`);
  for (const s of services) {
    const text = s.running
      ? `${(s.ready ? 'ready' : 'NOT READY').padEnd(9)} pid ${String(s.pid).padEnd(7)} ${(s.url ?? '').padEnd(30)} since ${s.since}`
      : `stopped${s.note ? ` (${s.note})` : ''}`;
    console.log(`  ${s.name.padEnd(18)} ${text}`);
  }
  if (running === 0) say('start them with `npm run up`');
  return 0;
}

// ---------------------------------------------------------------------------------------------

const commands = { up, down, status };
const command = /** @type {keyof typeof commands | undefined} */ (process.argv[2]);
if (!command || !(command in commands)) {
  console.error('usage: node scripts/stack.mjs up|down|status [--json]');
  process.exit(64);
}
try {
  process.exitCode = await commands[command]();
} catch (error) {
  if (error instanceof SettingsError) {
    console.error(error.message);
    process.exitCode = 78;
  } else if (error instanceof StackError) {
    console.error(`[stack] ${error.message}`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
