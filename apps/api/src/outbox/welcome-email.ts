import type { EmailQueue, WelcomeEmailJob } from '../queue/email-queue.js';
import { currentTraceContext } from '../tracing/spans.js';
import type { OutboxMessage } from './outbox.js';
import type { OutboxHandler } from './outbox-relay.js';

export const WELCOME_EMAIL_TOPIC = 'email.welcome';

export const welcomeEmailMessage = (job: WelcomeEmailJob): OutboxMessage<WelcomeEmailJob> => ({ topic: WELCOME_EMAIL_TOPIC, payload: job });

function asWelcomeJob(payload: unknown): WelcomeEmailJob {
  const p = payload as Partial<Record<keyof WelcomeEmailJob, unknown>> | null;
  if (p && typeof p.userId === 'string' && typeof p.email === 'string' && typeof p.name === 'string') {
    return { userId: p.userId, email: p.email, name: p.name };
  }
  throw new Error(`not a welcome email payload: ${JSON.stringify(payload)}`);
}

/**
 * Hands a welcome email to the queue. The queue derives the job id from the user id, so handing the
 * same message over twice (a relay that died between the enqueue and the delete) queues one job.
 */
export const welcomeEmailToQueue =
  (queue: EmailQueue): OutboxHandler =>
  (payload) =>
    // The job carries the relay span's context with its data (in Redis with BullMQ), so it joins
    // the trace whenever and wherever it runs.
    queue.enqueueWelcome({ ...asWelcomeJob(payload), traceContext: currentTraceContext() });
