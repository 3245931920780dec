import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';
import type { JobLifecycle } from './job-lifecycle.js';
import { EMAIL_QUEUE_NAME, type EmailQueue, type QueueSettings, type WelcomeEmailJob, welcomeJobId } from './email-queue.js';

/** ioredis takes host/port/credentials, not a URL; BullMQ passes these through. */
export function redisConnection(url: string): ConnectionOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
  };
}

/**
 * BullMQ used directly rather than through @nestjs/bullmq: the producer and the worker need
 * different connection settings chosen at run time (the producer fails fast while Redis is down,
 * the worker waits and reconnects), which @nestjs/bullmq's static @Processor options cannot express.
 */
export function createBullmqQueue(
  options: { url: string; prefix: string },
  settings: QueueSettings,
  lifecycle: JobLifecycle,
  logger: Logger,
): EmailQueue {
  const connection = redisConnection(options.url);
  const queue = new Queue<WelcomeEmailJob>(EMAIL_QUEUE_NAME, {
    prefix: options.prefix,
    // Without this, adds during an outage wait in ioredis' offline queue and the HTTP request hangs.
    connection: { ...connection, enableOfflineQueue: false },
    defaultJobOptions: {
      attempts: settings.attempts,
      backoff: { type: 'exponential', delay: settings.backoffMs },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  });
  queue.on('error', (error) => logger.warn({ err: error.message }, 'BullMQ queue connection error'));

  const worker = new Worker<WelcomeEmailJob>(
    EMAIL_QUEUE_NAME,
    (job) => lifecycle.execute(job.id as string, job.data),
    { prefix: options.prefix, connection: { ...connection, maxRetriesPerRequest: null }, concurrency: settings.concurrency },
  );
  worker.on('completed', (job) => lifecycle.completed(job.id as string, job.attemptsMade));
  worker.on('failed', (job, error) => {
    if (job) lifecycle.failed(job.id as string, job.attemptsMade, job.opts.attempts ?? 1, error);
  });
  // A worker without an error listener crashes the process on a Redis hiccup.
  worker.on('error', (error) => logger.warn({ err: error.message }, 'BullMQ worker error'));

  return {
    backend: 'bullmq',
    async enqueueWelcome(data) {
      const jobId = welcomeJobId(data.userId);
      await queue.add('welcome', data, { jobId });
      return jobId;
    },
    async depth() {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return { waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0), active: counts.active ?? 0, delayed: counts.delayed ?? 0 };
    },
    async ping() {
      // A real round trip through the queue's own connection; with the offline queue disabled
      // it fails at once while Redis is unreachable instead of waiting for a reconnect.
      await queue.getJobCounts('waiting');
    },
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}

