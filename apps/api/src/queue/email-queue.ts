import type { QueueDepth } from '@obsnest/observability';

export const EMAIL_QUEUE_NAME = 'email';

export interface WelcomeEmailJob {
  readonly userId: string;
  readonly email: string;
  readonly name: string;
  /** W3C trace context of the hand-over that queued it, so the job continues that trace (absent when tracing is off). */
  readonly traceContext?: string;
}

/**
 * The email queue port. BullMQ on Redis and the in-process queue implement it with the same
 * semantics (attempts, exponential backoff, completed and failed outcomes, deduplication by id).
 */
export interface EmailQueue {
  readonly backend: 'bullmq' | 'memory';
  /** Enqueues once per id: adding an id that is already queued is a no-op. Returns the job id. */
  enqueueWelcome(job: WelcomeEmailJob): Promise<string>;
  depth(): Promise<QueueDepth>;
  /** Resolves when the backend answers; used by readiness. */
  ping(): Promise<void>;
  /** Stops taking jobs and waits for running ones to finish. */
  close(): Promise<void>;
}

export const EMAIL_QUEUE = Symbol('EMAIL_QUEUE');

export interface QueueSettings {
  attempts: number;
  backoffMs: number;
  concurrency: number;
}

/** A job's id is derived from what it does, so enqueuing the same welcome twice sends one email. */
export const welcomeJobId = (userId: string) => `welcome-${userId}`;

/** Delay before attempt `attempt + 1`, after `attempt` failed ones (1-based): backoff, 2×, 4×… */
export const backoffDelay = (backoffMs: number, failedAttempts: number) => backoffMs * 2 ** (failedAttempts - 1);

/** What processes one job attempt; it throws to fail the attempt. */
export type JobHandler = (id: string, data: WelcomeEmailJob) => Promise<void>;
