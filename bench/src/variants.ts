/** The servers compared in the request-overhead section. Shared by the harness and the bench server. */

export type Adapter = 'express' | 'fastify';
export const ADAPTERS: readonly Adapter[] = ['express', 'fastify'];

export type Stack =
  /** The trivial app alone: the baseline of every peer. */
  | 'bare'
  /** Ours with METRICS_ENABLED=false (request ids only): the baseline the issue names for ours. */
  | 'ours-off'
  /** Ours, metrics on: ObservabilityModule.forRoot({ metricsEnabled: true }). */
  | 'ours-on'
  /** Ours, metrics on, with HTTP recording swapped back to prom-client (bench/src/hotpath): before the hot-path fix. */
  | 'ours-prom-client'
  /** express-prom-bundle middleware (Express only). */
  | 'express-prom-bundle'
  /** fastify-metrics plugin (Fastify only). */
  | 'fastify-metrics'
  /** @willsoto/nestjs-prometheus with the usual hand-written HTTP interceptor. */
  | 'willsoto'
  /** OpenTelemetry Node SDK, HTTP instrumentation, Prometheus exporter. */
  | 'otel';

export interface Variant {
  readonly id: string;
  readonly adapter: Adapter;
  readonly stack: Stack;
  /** The variant whose numbers this one is divided by. */
  readonly baseline: Stack | undefined;
  /** Where the server exposes its metrics ('' for none); OTel serves them on a port of their own. */
  readonly metricsPath: string;
  /** A substring the metrics text must contain after one GET /bench/1, proving the request was counted. */
  readonly counted: string | undefined;
  readonly label: string;
}

const STACKS: Record<Stack, Omit<Variant, 'id' | 'adapter' | 'stack'>> = {
  bare: { baseline: undefined, metricsPath: '', counted: undefined, label: 'no instrumentation' },
  'ours-off': { baseline: 'bare', metricsPath: '', counted: undefined, label: 'ours, METRICS_ENABLED=false' },
  'ours-on': {
    baseline: 'ours-off',
    metricsPath: '/metrics',
    counted: 'http_requests_total{method="GET",route="/bench/:id",status_code="200"}',
    label: 'ours, metrics on',
  },
  'ours-prom-client': {
    baseline: 'ours-off',
    metricsPath: '/metrics',
    counted: 'http_requests_total{method="GET",route="/bench/:id",status_code="200"}',
    label: 'ours before the fix: prom-client recording',
  },
  'express-prom-bundle': {
    baseline: 'bare',
    metricsPath: '/metrics',
    counted: 'http_request_duration_seconds_count{status_code="200",method="GET",path="/bench/#val"}',
    label: 'express-prom-bundle',
  },
  'fastify-metrics': {
    baseline: 'bare',
    metricsPath: '/metrics',
    counted: 'http_request_duration_seconds_count{method="GET",route="/bench/:id",status_code="200"}',
    label: 'fastify-metrics',
  },
  willsoto: {
    baseline: 'bare',
    metricsPath: '/metrics',
    counted: 'http_requests_total{method="GET",route="/bench/:id",status_code="200"}',
    label: '@willsoto/nestjs-prometheus + interceptor',
  },
  otel: { baseline: 'bare', metricsPath: '/metrics', counted: 'http_server_request_duration_count{', label: 'OpenTelemetry SDK (http)' },
};

export function variant(adapter: Adapter, stack: Stack): Variant {
  return { id: `${adapter}/${stack}`, adapter, stack, ...STACKS[stack] };
}

export function variantsFor(adapter: Adapter): Variant[] {
  const peers: Stack[] = adapter === 'express' ? ['express-prom-bundle', 'willsoto', 'otel'] : ['fastify-metrics', 'willsoto', 'otel'];
  return (['bare', 'ours-off', 'ours-on', 'ours-prom-client', ...peers] as Stack[]).map((s) => variant(adapter, s));
}
