/**
 * How the monitoring services run outside docker compose, from the Debian packages: binary names,
 * command-line flags and environment. scripts/stack.mjs (`npm run up`) and the live tests both
 * build their commands here, so a flag changes in one place.
 *
 * Every listener takes an explicit address: nothing binds 0.0.0.0 by accident. Secrets (database
 * and Redis URLs) travel in the environment, never on the command line, where `ps` shows them.
 */

/** Debian's binary names; upstream archives call them prometheus, alertmanager, node_exporter… */
export const BINARIES = {
  prometheus: process.env.PROMETHEUS_BINARY ?? 'prometheus',
  alertmanager: process.env.ALERTMANAGER_BINARY ?? 'prometheus-alertmanager',
  nodeExporter: process.env.NODE_EXPORTER_BINARY ?? 'prometheus-node-exporter',
  postgresExporter: process.env.POSTGRES_EXPORTER_BINARY ?? 'prometheus-postgres-exporter',
  redisExporter: process.env.REDIS_EXPORTER_BINARY ?? 'prometheus-redis-exporter',
} as const;

export type Binary = keyof typeof BINARIES;

/** The Debian package that provides each binary. */
export const DEBIAN_PACKAGES: Readonly<Record<Binary, string>> = {
  prometheus: 'prometheus',
  alertmanager: 'prometheus-alertmanager',
  nodeExporter: 'prometheus-node-exporter',
  postgresExporter: 'prometheus-postgres-exporter',
  redisExporter: 'prometheus-redis-exporter',
};

/** Default ports, as in docker-compose.yml. PORT, PROMETHEUS_PORT and ALERTMANAGER_PORT come from the config schema. */
export const DEFAULT_PORTS = {
  nodeExporter: 9100,
  postgresExporter: 9187,
  redisExporter: 9121,
  alertSink: 9095,
} as const;

export interface Command {
  /** argv[0] first. */
  readonly argv: readonly string[];
  /** Variables to add to the child's environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Path answering 2xx once the service can serve. */
  readonly readyPath: string;
}

export const address = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

export interface PrometheusFlags {
  readonly configFile: string;
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  /** --storage.tsdb.retention.time, e.g. 30d (PROMETHEUS_RETENTION). */
  readonly retention?: string;
  /** POST /-/reload and /-/quit; the native stack reloads a changed configuration with it. */
  readonly enableLifecycle?: boolean;
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export function prometheusCommand(flags: PrometheusFlags): Command {
  return {
    argv: [
      BINARIES.prometheus,
      `--config.file=${flags.configFile}`,
      `--storage.tsdb.path=${flags.dataDir}`,
      ...(flags.retention ? [`--storage.tsdb.retention.time=${flags.retention}`] : []),
      `--web.listen-address=${address(flags.host, flags.port)}`,
      `--web.external-url=http://${address(flags.host, flags.port)}/`,
      // Keeps the trace_id exemplars the API serves in OpenMetrics (/api/v1/query_exemplars, Grafana).
      '--enable-feature=exemplar-storage',
      ...(flags.enableLifecycle ? ['--web.enable-lifecycle'] : []),
      ...(flags.logLevel ? [`--log.level=${flags.logLevel}`] : []),
    ],
    env: {},
    readyPath: '/-/ready',
  };
}

export interface AlertmanagerFlags {
  readonly configFile: string;
  readonly storageDir: string;
  readonly host: string;
  readonly port: number;
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Gossip with the other Alertmanagers (ALERTMANAGER_REPLICAS): own address and theirs. Unset: clustering off. */
  readonly cluster?: { readonly listen: string; readonly peers: readonly string[] };
}

export function alertmanagerCommand(flags: AlertmanagerFlags): Command {
  return {
    argv: [
      BINARIES.alertmanager,
      `--config.file=${flags.configFile}`,
      `--storage.path=${flags.storageDir}`,
      // Silences and the notification log reach disk on a clean stop or at each maintenance run
      // (default 15 min): a crash would lose up to 15 minutes of silences. One minute bounds that.
      '--data.maintenance-interval=1m',
      `--web.listen-address=${address(flags.host, flags.port)}`,
      `--web.external-url=http://${address(flags.host, flags.port)}/`,
      // Empty: clustering off, no gossip listener on the default 0.0.0.0:9094.
      ...(flags.cluster
        ? [
            `--cluster.listen-address=${flags.cluster.listen}`,
            // Loopback peers: without an advertise address, Alertmanager refuses a listener it cannot advertise.
            `--cluster.advertise-address=${flags.cluster.listen}`,
            ...flags.cluster.peers.map((peer) => `--cluster.peer=${peer}`),
          ]
        : ['--cluster.listen-address=']),
      ...(flags.logLevel ? [`--log.level=${flags.logLevel}`] : []),
    ],
    env: {},
    readyPath: '/-/ready',
  };
}

export function nodeExporterCommand(host: string, port: number): Command {
  return { argv: [BINARIES.nodeExporter, `--web.listen-address=${address(host, port)}`], env: {}, readyPath: '/metrics' };
}

/**
 * postgres-exporter reads its connection URL from DATA_SOURCE_NAME. Its driver (lib/pq) requires
 * TLS unless told otherwise, while the API's node-postgres only uses TLS when the URL asks for it:
 * `sslmode=disable` is added when the URL names no sslmode, so both connect the same way.
 */
export function postgresExporterCommand(host: string, port: number, databaseUrl: string): Command {
  const url = new URL(databaseUrl);
  if (!url.searchParams.has('sslmode')) url.searchParams.set('sslmode', 'disable');
  return {
    argv: [BINARIES.postgresExporter, `--web.listen-address=${address(host, port)}`],
    env: { DATA_SOURCE_NAME: url.toString() },
    readyPath: '/metrics',
  };
}

/** redis-exporter reads the Redis URL from REDIS_ADDR. */
export function redisExporterCommand(host: string, port: number, redisUrl: string): Command {
  return {
    argv: [BINARIES.redisExporter, `--web.listen-address=${address(host, port)}`],
    env: { REDIS_ADDR: redisUrl },
    readyPath: '/health',
  };
}
