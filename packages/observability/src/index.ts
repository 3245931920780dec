export {
  aggregateMetrics,
  type ClusterAggregator,
  ClusterMetricsAggregator,
  ClusterMetricsPrimary,
  type ClusterMetricsPrimaryOptions,
  ClusterMetricsWorker,
  type MetricFamilyJson,
  type MetricSample,
  renderMetrics,
  type WorkerChannel,
} from './cluster.js';
export * from './contract.js';
export { ObservabilityEndpoints, type EndpointResponse } from './endpoints.js';
export { HealthRegistry, type HealthResponse, type ReadinessCheck } from './health.js';
export { CLIENT_CLOSED_REQUEST, type FinishedRequest, requestIdOf } from './http-instrumentation.js';
export { ManagementServer } from './management-server.js';
export { metricTableMarkdown, replaceMarkedSection } from './metric-docs.js';
export { bearerTokenMatches } from './metrics-auth.js';
export { negotiateExpositionFormat } from './exposition-format.js';
export {
  AppMetrics,
  CLUSTER_RUNTIME_AGGREGATION,
  type DbPoolStats,
  type ExpositionFormat,
  type GaugeCollector,
  type MetricHandle,
  type MetricsOptions,
  type QueueDepth,
} from './metrics.js';
export { ObservabilityModule } from './observability.module.js';
export { OBSERVABILITY_OPTIONS, type ObservabilityAsyncOptions, type ObservabilityOptions } from './options.js';
export { instrumentSocketIoNamespace, type SocketIoNamespaceLike } from './websocket-instrumentation.js';
