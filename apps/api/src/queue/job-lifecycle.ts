import { performance } from 'node:perf_hooks';
import type { AppMetrics } from '@obsnest/observability';
import type { Logger } from 'pino';
import { inSpan, SpanKind, withTraceContext } from '../tracing/spans.js';
import { EMAIL_QUEUE_NAME, type JobHandler, type WelcomeEmailJob } from './email-queue.js';

export type AttemptOutcome = 'completed' | 'retry' | 'failed';

/**
 * One attempt of one job, timed, counted and logged the same way whichever backend runs it.
 * A job counts as failed once, when its last attempt fails; earlier failures are retries.
 */
export class JobLifecycle {
  constructor(
    private readonly handler: JobHandler,
    private readonly metrics: AppMetrics | undefined,
    private readonly logger: Logger,
  ) {}

  run(id: string, data: WelcomeEmailJob, attempt: number, maxAttempts: number): Promise<AttemptOutcome> {
    return this.inJobSpan(id, data, async () => {
      const start = performance.now();
      try {
        await this.handler(id, data);
        this.finished(start);
        this.completed(id, attempt);
        return 'completed';
      } catch (error) {
        this.finished(start);
        return this.failed(id, attempt, maxAttempts, error);
      }
    });
  }

  /** One timed attempt that throws on failure, for backends (BullMQ) that report outcomes through events. */
  execute(id: string, data: WelcomeEmailJob): Promise<void> {
    return this.inJobSpan(id, data, () => {
      const start = performance.now();
      return this.handler(id, data).finally(() => this.finished(start));
    });
  }

  /**
   * Each attempt is a consumer span, child of the hand-over that queued the job (its context travels
   * in the job's data), so the duration's exemplar and the attempt's log lines name that trace.
   */
  private inJobSpan<T>(id: string, data: WelcomeEmailJob, work: () => Promise<T>): Promise<T> {
    return withTraceContext(data.traceContext, () =>
      inSpan(
        `${EMAIL_QUEUE_NAME} process`,
        { kind: SpanKind.CONSUMER, attributes: { 'messaging.destination.name': EMAIL_QUEUE_NAME, 'messaging.message.id': id } },
        work,
      ),
    );
  }

  completed(id: string, attempt: number): void {
    this.metrics?.jobCompleted(EMAIL_QUEUE_NAME);
    this.logger.info({ jobId: id, queue: EMAIL_QUEUE_NAME, attempt }, 'job completed');
  }

  failed(id: string, attempt: number, maxAttempts: number, error: unknown): AttemptOutcome {
    const reason = error instanceof Error ? error.message : String(error);
    if (attempt < maxAttempts) {
      this.logger.warn({ jobId: id, queue: EMAIL_QUEUE_NAME, attempt, maxAttempts, reason }, 'job attempt failed, will retry');
      return 'retry';
    }
    this.metrics?.jobFailed(EMAIL_QUEUE_NAME);
    this.logger.error({ jobId: id, queue: EMAIL_QUEUE_NAME, attempt, reason }, 'job failed');
    return 'failed';
  }

  private finished(start: number): void {
    this.metrics?.jobAttemptFinished(EMAIL_QUEUE_NAME, (performance.now() - start) / 1000);
  }
}
