import { context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

/**
 * The application's spans, through `@opentelemetry/api` only: with no SDK started (tracing off)
 * every call here is the API's no-op, and nothing is recorded or exported.
 */
export const tracer = trace.getTracer('@obsnest/api');

export { SpanKind, SpanStatusCode };

/** Runs `work` inside a new span (a child of the active one), ending it with the outcome. */
export function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Record<string, string | number | boolean> },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, options, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * The active span's W3C `traceparent` (and `tracestate`), to store with work done later elsewhere
 * (an outbox row, a job); undefined when nothing is being traced.
 */
export function currentTraceContext(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? JSON.stringify(carrier) : undefined;
}

/** Runs `work` in the context a `currentTraceContext()` value carried; in a fresh root context without one. */
export function withTraceContext<T>(stored: string | null | undefined, work: () => T): T {
  if (!stored) return context.with(ROOT_CONTEXT, work);
  let carrier: Record<string, string>;
  try {
    carrier = JSON.parse(stored) as Record<string, string>;
  } catch {
    return context.with(ROOT_CONTEXT, work);
  }
  return context.with(propagation.extract(ROOT_CONTEXT, carrier), work);
}

/** trace_id and span_id of the active, sampled span: what log lines and exemplars carry. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  const ids = span.spanContext();
  return ids.traceFlags & 1 ? { trace_id: ids.traceId, span_id: ids.spanId } : undefined;
}

/** The trace id of the active sampled span, for an exemplar; undefined when there is none. */
export function activeTraceId(): string | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  const ids = span.spanContext();
  return ids.traceFlags & 1 ? ids.traceId : undefined;
}
