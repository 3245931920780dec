/**
 * The OpenTelemetry variant: the Node SDK with HTTP instrumentation and the Prometheus exporter,
 * started before Nest (and the `http` module users) load, as OpenTelemetry's docs require.
 * Metrics only: no span processor (no trace exporter) and no log exporter, the fair comparison
 * with a Prometheus client. The exporter serves /metrics on its own port, OTEL_METRICS_PORT.
 */
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { NodeSDK } from '@opentelemetry/sdk-node';

process.env.OTEL_LOGS_EXPORTER ??= 'none';
process.env.OTEL_TRACES_EXPORTER ??= 'none';

const sdk = new NodeSDK({
  serviceName: 'obsnest-bench',
  metricReader: new PrometheusExporter({ host: '127.0.0.1', port: Number(process.env.OTEL_METRICS_PORT ?? 9464) }),
  instrumentations: [new HttpInstrumentation()],
  spanProcessors: [],
});
sdk.start();
process.once('exit', () => void sdk.shutdown());

await import('./server.js');
