import { defineMetric, defineMetrics } from '../../src/contract.js';

/** An application's own contract, as a user would write it: registered through forRoot({ metrics }). */
export const TEST_APP_METRICS = defineMetrics({
  emailsSentTotal: defineMetric({
    name: 'test_emails_sent_total',
    type: 'counter',
    help: 'Emails handed to a transport, by transport.',
    labelNames: ['transport'],
    labelValues: { transport: ['smtp', 'dev'] },
  }),
  backlogMessages: defineMetric({
    name: 'test_backlog_messages',
    type: 'gauge',
    help: 'Messages waiting, by topic; read at scrape time.',
    labelNames: ['topic'],
  }),
  batchDurationSeconds: defineMetric({
    name: 'test_batch_duration_seconds',
    type: 'histogram',
    help: 'Time one batch took, in seconds, by kind.',
    labelNames: ['kind'],
    labelValues: { kind: ['import', 'export'] },
    buckets: [0.1, 1, 10],
    unit: 'seconds',
  }),
});
