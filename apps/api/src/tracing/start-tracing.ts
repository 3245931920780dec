import { register } from 'node:module';
import type { Config } from '../config/config.js';

export interface Tracing {
  /** Exports the spans still buffered, then stops the SDK. */
  shutdown(): Promise<void>;
}

export const tracingEnabled = (config: Pick<Config, 'OTEL_TRACES_EXPORTER'>): boolean => config.OTEL_TRACES_EXPORTER === 'otlp';

type SamplerConfig = Pick<Config, 'OTEL_TRACES_SAMPLER' | 'OTEL_TRACES_SAMPLER_ARG'>;

async function sampler(config: SamplerConfig) {
  const { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler } = await import('@opentelemetry/sdk-trace-base');
  const ratio = () => new TraceIdRatioBasedSampler(config.OTEL_TRACES_SAMPLER_ARG ?? 1);
  switch (config.OTEL_TRACES_SAMPLER) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * Starts the OpenTelemetry SDK when OTEL_TRACES_EXPORTER=otlp, before anything it instruments is
 * imported (main.ts loads the application only afterwards). Off, nothing of the SDK is even loaded:
 * `@opentelemetry/api` alone answers every span call with a no-op.
 *
 * The settings come from the validated config rather than from the SDK's own reading of the
 * environment, so a bad value stops the process with exit 78 like any other variable, and the
 * defaults are the ones the docs show.
 */
export async function startTracing(config: Config): Promise<Tracing | undefined> {
  if (!tracingEnabled(config)) return undefined;
  // ESM: modules imported from ESM (ioredis here) are only patched through the loader hook, which
  // must be registered before they load.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const [{ NodeSDK }, { HttpInstrumentation }, { IORedisInstrumentation }, { SocketIoInstrumentation }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-ioredis'),
    import('@opentelemetry/instrumentation-socket.io'),
  ]);
  const url = `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  const traceExporter =
    config.OTEL_EXPORTER_OTLP_PROTOCOL === 'http/json'
      ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({ url })
      : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter({ url });
  const sdk = new NodeSDK({
    serviceName: config.OTEL_SERVICE_NAME,
    traceExporter,
    sampler: await sampler(config),
    // The server span is named after the route template by the Nest interceptor (http.route is
    // known only once Nest has routed); health probes and scrapes are not traced.
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => /^\/(metrics|health\/)/.test(req.url ?? ''),
        // Outgoing HTTP is the exporter's own traffic here; tracing it would trace the tracing.
        ignoreOutgoingRequestHook: () => true,
      }),
      new IORedisInstrumentation({ requireParentSpan: true }),
      new SocketIoInstrumentation(),
    ],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
