/**
 * The metric contract: the definition type every metric is written in (name, type, help, labels,
 * closed label values, buckets), and the library's own families (HTTP, WebSocket, queue, DB pool,
 * runtime). An application defines its metrics with the same `defineMetrics` and registers them
 * through `ObservabilityModule.forRoot({ metrics: [...] })`.
 *
 * The instrumentation registers from it, and the dashboard generator, the rules' tests, the metric
 * tables of the docs and the test suite read the union of the contracts (`metricUnion`). Renaming a
 * metric is one edit and a red test elsewhere, not a grep.
 *
 * No imports on purpose: this file is exported alone (`@obsnest/observability/contract`), so code
 * that only reads definitions (the monitoring generators) loads neither prom-client nor Nest.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDefinition<L extends string = string, T extends MetricType = MetricType> {
  readonly name: string;
  readonly type: T;
  readonly help: string;
  readonly labelNames: readonly L[];
  /** Closed value sets of labels whose values are fixed in code (queue state, pool state...). */
  readonly labelValues?: { readonly [K in L]?: readonly string[] };
  /** Histograms only: upper bounds, ascending. */
  readonly buckets?: readonly number[];
  /** Base unit, for docs and dashboards. */
  readonly unit?: 'seconds' | 'bytes' | 'ratio' | 'count' | (string & {});
  /**
   * Gauges only: how the workers of a `node:cluster` application combine into the one value its
   * `/metrics` serves (prom-client's `aggregator`). Default `sum`, right for what each worker holds
   * apart (connections, pool sizes); `max`/`first` for what every worker reads the same (a version,
   * a per-process limit), `omit` to leave it out. Counters and histograms are always summed.
   */
  readonly aggregation?: 'sum' | 'first' | 'min' | 'max' | 'average' | 'omit';
}

/** A contract: metric definitions by key (the key is how code refers to it, the name is what Prometheus sees). */
export type MetricContract = { readonly [key: string]: MetricDefinition };

/** Label names of a definition, as a union of string literals. */
export type LabelsOf<D extends MetricDefinition> = D['labelNames'][number];

/** Returns the definition unchanged, with its label names and type kept as literal types. */
export function defineMetric<const L extends string, const T extends MetricType>(def: MetricDefinition<L, T>): MetricDefinition<L, T> {
  return def;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Why a definition is unusable, or undefined when it is fine. */
function problemOf(def: MetricDefinition): string | undefined {
  if (!NAME.test(def.name)) return 'is not a valid Prometheus metric name';
  if (!['counter', 'gauge', 'histogram'].includes(def.type)) return `has an unknown type "${def.type}"`;
  if (def.name.endsWith('_total') !== (def.type === 'counter')) return 'must end in _total if and only if it is a counter';
  if (def.help.trim() === '') return 'has no help text';
  if (new Set(def.labelNames).size !== def.labelNames.length) return 'repeats a label name';
  for (const label of def.labelNames) {
    if (!LABEL.test(label) || label.startsWith('__')) return `has an invalid label name "${label}"`;
    if (def.type === 'histogram' && label === 'le') return 'uses the reserved label "le"';
  }
  for (const [label, values] of Object.entries<readonly string[] | undefined>(def.labelValues ?? {})) {
    if (!def.labelNames.includes(label)) return `has closed values for "${label}", which is not one of its labels`;
    if (!values || values.length === 0) return `has an empty closed value set for "${label}"`;
    if (new Set(values).size !== values.length) return `repeats a closed value of "${label}"`;
  }
  if (def.aggregation !== undefined && def.aggregation !== 'sum' && def.type !== 'gauge') {
    return 'is summed across cluster workers (only a gauge may aggregate otherwise)';
  }
  if ((def.buckets !== undefined) !== (def.type === 'histogram')) return 'must have buckets if and only if it is a histogram';
  if (def.buckets) {
    if (def.buckets.length === 0) return 'has no buckets';
    for (let i = 0; i < def.buckets.length; i++) {
      if (!Number.isFinite(def.buckets[i])) return 'has a bucket that is not a finite number';
      if (i > 0 && def.buckets[i] <= def.buckets[i - 1]) return 'has buckets that are not strictly ascending';
    }
  }
  return undefined;
}

/**
 * A contract, validated: every definition usable by prom-client and by Prometheus' naming rules
 * (counters end in `_total`, nothing else does), names unique. Throws naming the first problem, so a
 * bad definition fails at import, not at the first scrape.
 */
export function defineMetrics<const C extends MetricContract>(contract: C): C {
  const seen = new Map<string, string>();
  for (const [key, def] of Object.entries(contract)) {
    const problem = problemOf(def);
    if (problem) throw new Error(`metric ${key} (${def.name}) ${problem}`);
    const other = seen.get(def.name);
    if (other !== undefined) throw new Error(`metrics ${other} and ${key} are both named ${def.name}`);
    seen.set(def.name, key);
  }
  return contract;
}

/**
 * Every definition of the given contracts, in order: what "is this metric known?" reads. Throws when
 * two contracts define the same name (an application metric may not shadow a library one).
 */
export function metricUnion(...contracts: readonly MetricContract[]): MetricDefinition[] {
  const byName = new Map<string, MetricDefinition>();
  for (const contract of contracts) {
    for (const def of Object.values(contract)) {
      if (byName.has(def.name) && byName.get(def.name) !== def) throw new Error(`metric ${def.name} is defined by two contracts`);
      byName.set(def.name, def);
    }
  }
  return [...byName.values()];
}

/** `route` label value for every request that matched no route, so random paths cannot create series. */
export const UNMATCHED_ROUTE = 'UNMATCHED';

/**
 * HTTP methods that keep their own `method` label value. Anything else Node's parser lets through
 * (PROPFIND, PURGE, …) is folded into `OTHER`, so the method label is a closed set too.
 */
export const KNOWN_HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export const OTHER_HTTP_METHOD = 'OTHER';
/** Every value the `method` label can take. */
export const HTTP_METHOD_VALUES = [...KNOWN_HTTP_METHODS, OTHER_HTTP_METHOD] as const;

/** `state` values of the queue depth gauge: the states a job can wait in. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** `state` values of the DB pool connections gauge. */
export const DB_POOL_STATES = ['active', 'idle'] as const;
export type DbPoolState = (typeof DB_POOL_STATES)[number];

/**
 * Latency buckets in seconds. Chosen around the alerting and SLO thresholds (0.25 s p95 target,
 * 0.5 s latency SLO) so that `histogram_quantile` is accurate where decisions are taken.
 */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
export const QUEUE_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

export const METRICS = defineMetrics({
  httpRequestsTotal: defineMetric({
    name: 'http_requests_total',
    type: 'counter',
    help: 'HTTP requests answered, by method, matched route template and status code sent.',
    labelNames: ['method', 'route', 'status_code'],
    labelValues: { method: HTTP_METHOD_VALUES },
  }),
  httpRequestDurationSeconds: defineMetric({
    name: 'http_request_duration_seconds',
    type: 'histogram',
    help: 'Time from request received to response finished, in seconds, by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'],
    labelValues: { method: HTTP_METHOD_VALUES },
    buckets: HTTP_DURATION_BUCKETS,
    unit: 'seconds',
  }),
  websocketConnections: defineMetric({
    name: 'websocket_connections',
    type: 'gauge',
    help: 'Socket.IO connections currently open, by namespace.',
    labelNames: ['namespace'],
  }),
  websocketConnectionsOpenedTotal: defineMetric({
    name: 'websocket_connections_opened_total',
    type: 'counter',
    help: 'Socket.IO connections accepted since start, by namespace.',
    labelNames: ['namespace'],
  }),
  websocketMessagesReceivedTotal: defineMetric({
    name: 'websocket_messages_received_total',
    type: 'counter',
    help: 'Socket.IO event packets received from clients, by namespace.',
    labelNames: ['namespace'],
  }),
  queueJobsCompletedTotal: defineMetric({
    name: 'queue_jobs_completed_total',
    type: 'counter',
    help: 'Jobs that completed successfully, by queue.',
    labelNames: ['queue'],
  }),
  queueJobsFailedTotal: defineMetric({
    name: 'queue_jobs_failed_total',
    type: 'counter',
    help: 'Jobs that failed for good (every attempt used), by queue.',
    labelNames: ['queue'],
  }),
  queueJobDurationSeconds: defineMetric({
    name: 'queue_job_duration_seconds',
    type: 'histogram',
    help: 'Processing time of one job attempt, in seconds, by queue.',
    labelNames: ['queue'],
    buckets: QUEUE_DURATION_BUCKETS,
    unit: 'seconds',
  }),
  queueJobs: defineMetric({
    name: 'queue_jobs',
    type: 'gauge',
    help: 'Jobs currently in the queue, by queue and state (waiting, active, delayed).',
    labelNames: ['queue', 'state'],
    labelValues: { state: QUEUE_STATES },
  }),
  dbPoolConnections: defineMetric({
    name: 'db_pool_connections',
    type: 'gauge',
    help: 'Database pool connections, by state (active = checked out, idle = open and free).',
    labelNames: ['state'],
    labelValues: { state: DB_POOL_STATES },
  }),
  dbPoolPendingRequests: defineMetric({
    name: 'db_pool_pending_requests',
    type: 'gauge',
    help: 'Queries waiting for a free database connection.',
    labelNames: [],
  }),
  dbPoolMaxConnections: defineMetric({
    name: 'db_pool_max_connections',
    type: 'gauge',
    help: 'Configured maximum size of the database pool.',
    labelNames: [],
  }),
  /** prom-client has no gauge of V8's hard heap limit; "heap close to its limit" needs one. */
  nodejsHeapSizeLimitBytes: defineMetric({
    name: 'nodejs_heap_size_limit_bytes',
    type: 'gauge',
    help: 'V8 heap size limit in bytes (the size at which the process dies of out-of-memory).',
    labelNames: [],
    unit: 'bytes',
    // A per-process limit, paired with the fullest worker's heap (see CLUSTER_RUNTIME_AGGREGATION).
    aggregation: 'max',
  }),
  appBuildInfo: defineMetric({
    name: 'app_build_info',
    type: 'gauge',
    help: 'Always 1; labels carry the application version and the Node.js version.',
    labelNames: ['version', 'node_version'],
    aggregation: 'first',
  }),
});

export type MetricKey = keyof typeof METRICS;

/**
 * Names of prom-client's default Node.js metrics that dashboards and alerts rely on. They are not
 * ours to define, but naming them here keeps every consumer on one spelling.
 */
export const NODE_RUNTIME_METRICS = {
  eventLoopLagP99: 'nodejs_eventloop_lag_p99_seconds',
  eventLoopLagMean: 'nodejs_eventloop_lag_mean_seconds',
  heapSizeUsedBytes: 'nodejs_heap_size_used_bytes',
  heapSizeTotalBytes: 'nodejs_heap_size_total_bytes',
  heapSpaceSizeAvailableBytes: 'nodejs_heap_space_size_available_bytes',
  /** By `type`; sum it for the total (prom-client's `nodejs_active_handles_total` gauge is not exposed: see metrics.ts). */
  activeHandles: 'nodejs_active_handles',
  gcDurationSeconds: 'nodejs_gc_duration_seconds',
  processStartTimeSeconds: 'process_start_time_seconds',
  processResidentMemoryBytes: 'process_resident_memory_bytes',
  processCpuSecondsTotal: 'process_cpu_seconds_total',
} as const;

/** Paths the HTTP instrumentation does not count unless told to. */
export const DEFAULT_EXCLUDED_PATHS = ['/metrics', '/health/live', '/health/ready'] as const;
