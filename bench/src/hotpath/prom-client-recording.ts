/**
 * How AppMetrics recorded HTTP requests before the hand-written recorder
 * (packages/observability/src/http-recorder.ts): prom-client's Counter and Histogram, with the
 * child of each label combination cached under a string key. Kept here, outside the package, so
 * that every bench run measures the fix against what it replaced, side by side.
 */
import { type AppMetrics, METRICS } from '@obsnest/observability';
import { Counter, Histogram, type Registry } from 'prom-client';

export interface PromClientRecording {
  observe(method: string, route: string, statusCode: number, seconds: number): void;
}

export function promClientRecording(registry: Registry): PromClientRecording {
  const { httpRequestsTotal: c, httpRequestDurationSeconds: h } = METRICS;
  const requests = new Counter({ name: c.name, help: c.help, labelNames: c.labelNames, registers: [registry] });
  const duration = new Histogram({
    name: h.name,
    help: h.help,
    labelNames: h.labelNames,
    buckets: [...(h.buckets ?? [])],
    registers: [registry],
  });
  const children = new Map<string, { requests: Counter.Internal; duration: Histogram.Internal<string> }>();
  return {
    observe(method, route, statusCode, seconds) {
      const key = `${method} ${statusCode} ${route}`;
      let child = children.get(key);
      if (child === undefined) {
        const labels = { method, route, status_code: String(statusCode) };
        child = { requests: requests.labels(labels), duration: duration.labels(labels) };
        children.set(key, child);
      }
      child.requests.inc();
      child.duration.observe(seconds);
    },
  };
}

/** Puts the prom-client recording back into an AppMetrics: same hook, same /metrics, the old cost. */
export function installPromClientRecording(metrics: AppMetrics): void {
  metrics.registry.removeSingleMetric(METRICS.httpRequestsTotal.name);
  metrics.registry.removeSingleMetric(METRICS.httpRequestDurationSeconds.name);
  const recording = promClientRecording(metrics.registry);
  metrics.observeHttpRequest = (method, route, statusCode, seconds) => recording.observe(method, route, statusCode, seconds);
}
