import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { withTraceContext } from '../tracing/spans.js';
import type { JobLifecycle } from './job-lifecycle.js';
import { EMAIL_QUEUE_NAME, type EmailQueue, type QueueSettings, type WelcomeEmailJob, welcomeJobId } from './email-queue.js';

/**
 * BullMQ used directly rather than through @nestjs/bullmq: the producer and the worker need
 * different connection settings chosen at run time (the producer fails fast while Redis is down,
 * the worker waits and reconnects), which @nestjs/bullmq's static @Processor options cannot express.
 */
export async function createBullmqQueue(
  options: { url: string; prefix: string },
  settings: QueueSettings,
  lifecycle: JobLifecycle,
  logger: Logger,
): Promise<EmailQueue> {
  // BullMQ under native ESM takes constructed clients rather than connection options.
  // Without the offline queue disabled, adds during an outage would wait in ioredis' offline queue
  // and hold the HTTP request; the worker's connection instead waits and reconnects.
  const producer = new Redis(options.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const consumer = new Redis(options.url, { maxRetriesPerRequest: null });
  for (const client of [producer, consumer]) {
    client.on('error', (error: Error) => logger.debug({ err: error.message }, 'Redis connection error'));
  }
  const queue = new Queue<WelcomeEmailJob>(EMAIL_QUEUE_NAME, {
    prefix: options.prefix,
    connection: producer,
    defaultJobOptions: {
      attempts: settings.attempts,
      backoff: { type: 'exponential', delay: settings.backoffMs },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  });
  queue.on('error', (error) => logger.warn({ err: error.message }, 'BullMQ queue connection error'));

  const worker = new Worker<WelcomeEmailJob>(EMAIL_QUEUE_NAME, (job) => lifecycle.execute(job.id as string, job.data), {
    prefix: options.prefix,
    connection: consumer,
    concurrency: settings.concurrency,
    // A job whose process died (SIGKILL, OOM, a lost host) keeps its lock until the lock expires,
    // and is taken back by the second stalled check after that. BullMQ's defaults (30 s, 30 s)
    // left the welcome emails of a crashed instance waiting about a minute; 5 s and 2 s bring
    // them back within about 9 s. The lock is renewed every lockDuration / 2 by a timer, so only
    // an event loop blocked for 5 s would count a live job as stalled (it then runs again once).
    lockDuration: 5000,
    stalledInterval: 2000,
  });
  // Outcomes arrive as events, after the attempt's span has ended: logged in the job's trace still.
  worker.on('completed', (job) => withTraceContext(job.data.traceContext, () => lifecycle.completed(job.id as string, job.attemptsMade)));
  worker.on('failed', (job, error) => {
    if (job)
      withTraceContext(job.data.traceContext, () => lifecycle.failed(job.id as string, job.attemptsMade, job.opts.attempts ?? 1, error));
  });
  // A worker without an error listener crashes the process on a Redis hiccup.
  worker.on('error', (error) => logger.warn({ err: error.message }, 'BullMQ worker error'));

  // BullMQ waits for its connection to be ready before any command, however long that takes;
  // callers on the request path and the readiness probe need an answer now instead.
  const assertConnected = () => {
    if (producer.status !== 'ready') throw new Error(`Redis is not reachable (connection ${producer.status})`);
  };
  await firstConnection(producer, 2000);

  return {
    backend: 'bullmq',
    async enqueueWelcome(data) {
      assertConnected();
      const jobId = welcomeJobId(data.userId);
      await queue.add('welcome', data, { jobId });
      return jobId;
    },
    async depth() {
      assertConnected();
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return { waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0), active: counts.active ?? 0, delayed: counts.delayed ?? 0 };
    },
    async ping() {
      assertConnected();
      // A real round trip through the queue's own connection.
      await queue.getJobCounts('waiting');
    },
    async close() {
      // With Redis reachable, a graceful close waits for running jobs. Without it, nothing can be
      // acknowledged anyway and a graceful close would wait for a reconnect that may never come.
      const reachable = consumer.status === 'ready';
      await worker.close(!reachable);
      await queue.close();
      // Clients passed in are the caller's to close; BullMQ leaves them open.
      for (const client of [producer, consumer]) {
        if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
        else client.disconnect();
      }
    },
  };
}

/**
 * Resolves once the client is ready, its first attempt has failed, or `ms` have passed: start-up
 * neither hangs on a dead Redis nor starts out unready while a live one is still handshaking.
 */
function firstConnection(client: Redis, ms: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off('ready', done);
      client.off('error', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    client.once('ready', done);
    client.once('error', done);
  });
}
