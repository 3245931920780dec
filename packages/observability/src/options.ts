import type { FinishedRequest } from './http-instrumentation.js';

export interface ObservabilityOptions {
  /** False turns every metric off (no hook on the request path, no /metrics); health stays. */
  metricsEnabled: boolean;
  /** `app_build_info{version}`. */
  appVersion: string;
  /** When set, `/metrics` requires `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /**
   * When set, `/metrics` and `/health/*` are served on this port only, by a separate listener
   * (Spring Boot's management port): the public port never exposes them.
   */
  managementPort?: number;
  /** Interface the management listener binds to. Default 127.0.0.1. */
  managementHost?: string;
  /** Route templates not counted by the HTTP metrics. Default: /metrics and /health/*. */
  excludeRoutes?: readonly string[];
  /** Header that carries the request id. Default `x-request-id`. */
  requestIdHeader?: string;
  /** Register prom-client's Node.js runtime metrics. Default true. */
  defaultMetrics?: boolean;
  /** Called for every finished request, e.g. to write the access log. */
  onRequestFinished?: (request: FinishedRequest) => void;
}

export const OBSERVABILITY_OPTIONS = Symbol('OBSERVABILITY_OPTIONS');
