import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueDepth } from '@obsnest/observability';
import type { JobLifecycle } from './job-lifecycle.js';
import { backoffDelay, type EmailQueue, type QueueSettings, type WelcomeEmailJob, welcomeJobId } from './email-queue.js';

interface Job {
  readonly id: string;
  readonly data: WelcomeEmailJob;
  attemptsMade: number;
}

/**
 * The queue used when no Redis is configured: same contract as BullMQ (attempts, exponential
 * backoff, dedup by id, completed/failed), kept in memory. Jobs do not survive a restart, which
 * is why production sets REDIS_URL.
 */
export function createInProcessQueue(settings: QueueSettings, lifecycle: JobLifecycle): EmailQueue {
  const waiting: Job[] = [];
  const delayed = new Map<string, { job: Job; timer: NodeJS.Timeout }>();
  const active = new Map<string, Promise<void>>();
  const known = new Set<string>();
  let closing = false;

  const pump = () => {
    while (!closing && active.size < settings.concurrency && waiting.length > 0) {
      const job = waiting.shift() as Job;
      const run = attempt(job).finally(() => {
        active.delete(job.id);
        pump();
      });
      active.set(job.id, run);
    }
  };

  const attempt = async (job: Job) => {
    job.attemptsMade++;
    const outcome = await lifecycle.run(job.id, job.data, job.attemptsMade, settings.attempts);
    if (outcome === 'retry' && !closing) {
      const timer = setTimeout(
        () => {
          delayed.delete(job.id);
          waiting.push(job);
          pump();
        },
        backoffDelay(settings.backoffMs, job.attemptsMade),
      );
      delayed.set(job.id, { job, timer });
      return;
    }
    known.delete(job.id);
  };

  return {
    backend: 'memory',
    async enqueueWelcome(data) {
      const id = welcomeJobId(data.userId);
      if (closing) throw new Error('the queue is shutting down');
      if (known.has(id)) return id;
      known.add(id);
      waiting.push({ id, data, attemptsMade: 0 });
      // Processing starts on a later tick, like a real queue: the caller's response is never
      // held up by the job.
      setImmediate(pump);
      return id;
    },
    async depth(): Promise<QueueDepth> {
      return { waiting: waiting.length, active: active.size, delayed: delayed.size };
    },
    async ping() {
      if (closing) throw new Error('the queue is shutting down');
    },
    async close() {
      closing = true;
      for (const { timer } of delayed.values()) clearTimeout(timer);
      delayed.clear();
      await Promise.allSettled(active.values());
      // Let the last `finally` callbacks run before reporting closed.
      await sleep(0);
    },
  };
}
