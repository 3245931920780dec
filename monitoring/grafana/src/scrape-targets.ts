/**
 * Prometheus job names of monitoring/prometheus/prometheus.yml, and the metrics the third-party
 * exporters expose that dashboards and rules read. Application metrics come from the contract in
 * @obsnest/observability; these are the ones it does not own. The tests check that the job names
 * match prometheus.yml and that every metric a dashboard or rule reads is known here or there.
 */

export const JOBS = {
  api: 'api',
  prometheus: 'prometheus',
  alertmanager: 'alertmanager',
  node: 'node',
  postgres: 'postgres',
  redis: 'redis',
} as const;

/** Series Prometheus produces itself. */
export const PROMETHEUS_METRICS = {
  up: 'up',
  alerts: 'ALERTS',
  ruleEvaluationFailuresTotal: 'prometheus_rule_evaluation_failures_total',
  notificationsErrorsTotal: 'prometheus_notifications_errors_total',
  alertmanagerNotificationsFailedTotal: 'alertmanager_notifications_failed_total',
} as const;

/** prometheus/node_exporter 1.x. */
export const NODE_EXPORTER_METRICS = {
  cpuSecondsTotal: 'node_cpu_seconds_total',
  load1: 'node_load1',
  memoryAvailableBytes: 'node_memory_MemAvailable_bytes',
  memoryTotalBytes: 'node_memory_MemTotal_bytes',
  filesystemAvailBytes: 'node_filesystem_avail_bytes',
  filesystemSizeBytes: 'node_filesystem_size_bytes',
  filesystemReadonly: 'node_filesystem_readonly',
  networkReceiveBytesTotal: 'node_network_receive_bytes_total',
  networkTransmitBytesTotal: 'node_network_transmit_bytes_total',
} as const;

/** prometheus-community/postgres_exporter 0.15+. */
export const POSTGRES_EXPORTER_METRICS = {
  up: 'pg_up',
  backends: 'pg_stat_database_numbackends',
  maxConnections: 'pg_settings_max_connections',
  transactionsCommitted: 'pg_stat_database_xact_commit',
  transactionsRolledBack: 'pg_stat_database_xact_rollback',
  deadlocks: 'pg_stat_database_deadlocks',
  databaseSizeBytes: 'pg_database_size_bytes',
} as const;

/** oliver006/redis_exporter 1.x. */
export const REDIS_EXPORTER_METRICS = {
  up: 'redis_up',
  memoryUsedBytes: 'redis_memory_used_bytes',
  memoryMaxBytes: 'redis_memory_max_bytes',
  connectedClients: 'redis_connected_clients',
  commandsProcessedTotal: 'redis_commands_processed_total',
  keyspaceHitsTotal: 'redis_keyspace_hits_total',
  keyspaceMissesTotal: 'redis_keyspace_misses_total',
} as const;

/** HAProxy 2.6's built-in exporter (job `haproxy`, native stack with API_REPLICAS > 1). */
export const HAPROXY_METRICS = {
  backendActiveServers: 'haproxy_backend_active_servers',
  backendHttpResponsesTotal: 'haproxy_backend_http_responses_total',
  backendResponseTimeAverageSeconds: 'haproxy_backend_response_time_average_seconds',
  backendRetryWarningsTotal: 'haproxy_backend_retry_warnings_total',
  backendRedispatchWarningsTotal: 'haproxy_backend_redispatch_warnings_total',
  backendConnectionErrorsTotal: 'haproxy_backend_connection_errors_total',
  serverStatus: 'haproxy_server_status',
} as const;

/** Every metric name above. */
export function exporterMetricNames(): string[] {
  return [PROMETHEUS_METRICS, NODE_EXPORTER_METRICS, POSTGRES_EXPORTER_METRICS, REDIS_EXPORTER_METRICS, HAPROXY_METRICS].flatMap((group) =>
    Object.values(group),
  );
}
