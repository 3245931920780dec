import { address, type Command } from './native.js';

/**
 * The parts that only run when the native stack scales out (API_REPLICAS, PROMETHEUS_REPLICAS):
 * HAProxy in front of the API replicas and VictoriaMetrics behind the Prometheus replicas. Their
 * Debian packages and flags are here; scripts/stack.mjs and the live tests build their commands
 * from this module, like native.ts for the others.
 */

export const SCALE_BINARIES = {
  haproxy: process.env.HAPROXY_BINARY ?? 'haproxy',
  victoriaMetrics: process.env.VICTORIA_METRICS_BINARY ?? 'victoria-metrics',
} as const;

export const SCALE_DEBIAN_PACKAGES: Readonly<Record<keyof typeof SCALE_BINARIES, string>> = {
  haproxy: 'haproxy',
  victoriaMetrics: 'victoria-metrics',
};

/** The cookie HAProxy sets to pin a client (a Socket.IO long-polling session above all) to one replica. */
export const STICKY_COOKIE = 'OBSNEST_API';

export interface Replica {
  /** Also the server name in HAProxy and the value of the sticky cookie. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Where /health/ready answers, when not on `port` (MANAGEMENT_PORT). */
  readonly checkPort?: number;
}

export interface LoadBalancerOptions {
  /** Where clients connect (the API's HOST and PORT). */
  readonly bind: { readonly host: string; readonly port: number };
  /** HAProxy's own endpoint: /metrics (Prometheus exporter) and /ready (at least one replica up). */
  readonly metrics: { readonly host: string; readonly port: number };
  readonly replicas: readonly Replica[];
  /** Health-check interval; a replica leaves the pool after two failed checks, returns after two good ones. */
  readonly checkIntervalMs?: number;
}

/**
 * haproxy.cfg for N API replicas.
 *
 * - Health: GET /health/ready every second, out after two failures. The API answers 503 from
 *   SIGTERM on for SHUTDOWN_DRAIN_MS before it stops accepting, so with a drain above two check
 *   intervals (plus a check's timeout) a stopping replica leaves the pool while it still serves.
 * - Stickiness: a cookie inserted by HAProxy. Socket.IO's long-polling sends each of a session's
 *   requests separately and only the replica that opened the session knows it; `balance source`
 *   would work too but pins every client behind one NAT (and every test on loopback) to one replica.
 * - Retries: a request whose connection failed (replica just killed, not yet marked down) goes to
 *   another replica. An empty response (killed mid-request) is retried only for GET and HEAD, which
 *   are safe to send twice; a POST in flight on a killed replica fails, as it must.
 */
export function renderHaproxyConfig(options: LoadBalancerOptions): string {
  const inter = options.checkIntervalMs ?? 1000;
  const servers = options.replicas.map(
    (r) => `  server ${r.name} ${address(r.host, r.port)} cookie ${r.name}${r.checkPort === undefined ? '' : ` port ${r.checkPort}`}`,
  );
  return [
    '# Rendered by the native stack (monitoring/runtime/scale.ts): do not edit, `npm run up` rewrites it.',
    'global',
    '  log stderr format short local0 notice',
    '  maxconn 4096',
    '',
    'defaults',
    '  mode http',
    '  log global',
    '  option dontlognull',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-request 10s',
    '  timeout http-keep-alive 10s',
    // WebSocket connections after the upgrade.
    '  timeout tunnel 1h',
    '  retries 2',
    '  option redispatch',
    '  retry-on conn-failure empty-response',
    '',
    'frontend api',
    `  bind ${address(options.bind.host, options.bind.port)}`,
    '  option forwardfor',
    '  http-request disable-l7-retry unless METH_GET || METH_HEAD',
    '  default_backend api',
    '',
    'backend api',
    '  balance roundrobin',
    `  cookie ${STICKY_COOKIE} insert indirect nocache httponly`,
    '  option httpchk GET /health/ready',
    // Two failed checks, each given 2 s: on a loaded machine one slow answer must not empty the pool.
    '  timeout check 2s',
    '  http-check expect status 200',
    `  default-server check inter ${inter} fastinter ${inter} downinter ${inter} fall 2 rise 2`,
    ...servers,
    '',
    'frontend metrics',
    `  bind ${address(options.metrics.host, options.metrics.port)}`,
    '  monitor-uri /ready',
    '  monitor fail if { nbsrv(api) lt 1 }',
    '  http-request use-service prometheus-exporter if { path /metrics }',
    '  no log',
    '',
  ].join('\n');
}

/** HAProxy in master-worker mode, in the foreground: SIGUSR2 reloads a changed configuration without dropping connections. */
export function haproxyCommand(configFile: string): Command {
  return { argv: [SCALE_BINARIES.haproxy, '-W', '-db', '-f', configFile], env: {}, readyPath: '/ready' };
}

export interface VictoriaMetricsFlags {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  /** -retentionPeriod: a number of months, or a duration such as 90d. */
  readonly retention: string;
  /**
   * -dedup.minScrapeInterval: of the samples of one series within this interval, one is kept. The
   * Prometheus replicas scrape the same targets at different offsets and remote-write the same
   * series (their `replica` label dropped), so one interval as long as the longest scrape
   * interval keeps one copy.
   */
  readonly dedupInterval: string;
}

export function victoriaMetricsCommand(flags: VictoriaMetricsFlags): Command {
  return {
    argv: [
      SCALE_BINARIES.victoriaMetrics,
      `-storageDataPath=${flags.dataDir}`,
      `-retentionPeriod=${flags.retention}`,
      `-httpListenAddr=${address(flags.host, flags.port)}`,
      `-dedup.minScrapeInterval=${flags.dedupInterval}`,
      // A loopback service: nothing to gain from the self-scrape and the telemetry defaults.
      '-selfScrapeInterval=0',
    ],
    env: {},
    readyPath: '/health',
  };
}
