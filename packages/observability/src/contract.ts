/**
 * The metric contract: the one place where metric names, types, help texts, label names,
 * closed label-value sets and bucket boundaries are defined.
 *
 * The instrumentation registers from it, and the dashboard generator, the rule files' tests,
 * MONITORING.md's metric table and the test suite read it. Renaming a metric here is one edit
 * and a red test elsewhere, not a grep.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDefinition<L extends string = string> {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly buckets?: readonly number[];
}

function define<const L extends string>(def: MetricDefinition<L>): MetricDefinition<L> {
  return def;
}

/** `route` label value for every request that matched no route, so random paths cannot create series. */
export const UNMATCHED_ROUTE = 'UNMATCHED';

/**
 * HTTP methods that keep their own `method` label value. Anything else Node's parser lets through
 * (PROPFIND, PURGE, …) is folded into `OTHER`, so the method label is a closed set too.
 */
export const KNOWN_HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export const OTHER_HTTP_METHOD = 'OTHER';

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

export const METRICS = {
  httpRequestsTotal: define({
    name: 'http_requests_total',
    type: 'counter',
    help: 'HTTP requests answered, by method, matched route template and status code sent.',
    labelNames: ['method', 'route', 'status_code'],
  }),
  httpRequestDurationSeconds: define({
    name: 'http_request_duration_seconds',
    type: 'histogram',
    help: 'Time from request received to response finished, in seconds, by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: HTTP_DURATION_BUCKETS,
  }),
  websocketConnections: define({
    name: 'websocket_connections',
    type: 'gauge',
    help: 'Socket.IO connections currently open, by namespace.',
    labelNames: ['namespace'],
  }),
  websocketConnectionsOpenedTotal: define({
    name: 'websocket_connections_opened_total',
    type: 'counter',
    help: 'Socket.IO connections accepted since start, by namespace.',
    labelNames: ['namespace'],
  }),
  websocketMessagesReceivedTotal: define({
    name: 'websocket_messages_received_total',
    type: 'counter',
    help: 'Socket.IO event packets received from clients, by namespace.',
    labelNames: ['namespace'],
  }),
  queueJobsCompletedTotal: define({
    name: 'queue_jobs_completed_total',
    type: 'counter',
    help: 'Jobs that completed successfully, by queue.',
    labelNames: ['queue'],
  }),
  queueJobsFailedTotal: define({
    name: 'queue_jobs_failed_total',
    type: 'counter',
    help: 'Jobs that failed for good (every attempt used), by queue.',
    labelNames: ['queue'],
  }),
  queueJobDurationSeconds: define({
    name: 'queue_job_duration_seconds',
    type: 'histogram',
    help: 'Processing time of one job attempt, in seconds, by queue.',
    labelNames: ['queue'],
    buckets: QUEUE_DURATION_BUCKETS,
  }),
  queueJobs: define({
    name: 'queue_jobs',
    type: 'gauge',
    help: 'Jobs currently in the queue, by queue and state (waiting, active, delayed).',
    labelNames: ['queue', 'state'],
  }),
  outboxMessagesPending: define({
    name: 'outbox_messages_pending',
    type: 'gauge',
    help: 'Messages written to the transactional outbox and not yet relayed, by topic.',
    labelNames: ['topic'],
  }),
  outboxOldestPendingAgeSeconds: define({
    name: 'outbox_oldest_pending_age_seconds',
    type: 'gauge',
    help: 'Age in seconds of the oldest message not yet relayed (0 when none), by topic.',
    labelNames: ['topic'],
  }),
  dbPoolConnections: define({
    name: 'db_pool_connections',
    type: 'gauge',
    help: 'Database pool connections, by state (active = checked out, idle = open and free).',
    labelNames: ['state'],
  }),
  dbPoolPendingRequests: define({
    name: 'db_pool_pending_requests',
    type: 'gauge',
    help: 'Queries waiting for a free database connection.',
    labelNames: [],
  }),
  dbPoolMaxConnections: define({
    name: 'db_pool_max_connections',
    type: 'gauge',
    help: 'Configured maximum size of the database pool.',
    labelNames: [],
  }),
  /** prom-client has no gauge of V8's hard heap limit; "heap close to its limit" needs one. */
  nodejsHeapSizeLimitBytes: define({
    name: 'nodejs_heap_size_limit_bytes',
    type: 'gauge',
    help: 'V8 heap size limit in bytes (the size at which the process dies of out-of-memory).',
    labelNames: [],
  }),
  appBuildInfo: define({
    name: 'app_build_info',
    type: 'gauge',
    help: 'Always 1; labels carry the application version and the Node.js version.',
    labelNames: ['version', 'node_version'],
  }),
} as const;

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

export function allMetricDefinitions(): MetricDefinition[] {
  return Object.values(METRICS);
}
