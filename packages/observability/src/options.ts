import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { FinishedRequest } from './http-instrumentation.js';
import type { MetricsOptions } from './metrics.js';

/** `forRoot`'s options; `AppMetrics`' own (`appVersion`, `defaultMetrics`, `defaultLabels`, `metrics`) included. */
export interface ObservabilityOptions extends MetricsOptions {
  /** False turns every metric off (no hook on the request path, no /metrics); health stays. */
  metricsEnabled: boolean;
  /** When set, `/metrics` requires `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /**
   * When set, `/metrics` and `/health/*` are served on this port only, by a separate listener
   * (Spring Boot's management port): the public port never exposes them.
   */
  managementPort?: number;
  /** Interface the management listener binds to. Default 127.0.0.1. */
  managementHost?: string;
  /**
   * In a `node:cluster` worker: `/metrics` answers with every worker's metrics, aggregated by the
   * primary, which must run `ClusterMetricsPrimary` (`@obsnest/observability/cluster`). Outside a
   * cluster worker it has no effect. Default false.
   */
  clusterMetrics?: boolean;
  /** Route templates not counted by the HTTP metrics. Default: /metrics and /health/*. */
  excludeRoutes?: readonly string[];
  /** Header that carries the request id. Default `x-request-id`. */
  requestIdHeader?: string;
  /** Called for every finished request, e.g. to write the access log. */
  onRequestFinished?: (request: FinishedRequest) => void;
}

/**
 * Nest's own builder for `forRoot`/`forRootAsync` (`useFactory` + `inject` + `imports`, `useClass`,
 * `useExisting`), so the module is configured the way @nestjs/config users configure any other.
 */
export const {
  ConfigurableModuleClass: ConfigurableObservabilityModule,
  MODULE_OPTIONS_TOKEN: OBSERVABILITY_OPTIONS,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ObservabilityOptions>({ moduleName: 'Observability' }).setClassMethodName('forRoot').build();

export type ObservabilityAsyncOptions = typeof ASYNC_OPTIONS_TYPE;
