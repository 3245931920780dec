import type { AppMetrics } from '@obsnest/observability';
import { defineMetric, defineMetrics } from '@obsnest/observability/contract';
import type { OutboxBacklog } from './outbox/outbox-relay.js';

/**
 * The API's own metrics, next to the library's `METRICS`: registered through
 * `ObservabilityModule.forRoot({ metrics: [API_METRICS] })`, used through `AppMetrics.handle()`.
 * Loads only the contract entry point at run time (the other imports are types), so the monitoring
 * generators and the docs read these definitions without loading Nest or prom-client.
 */
export const API_METRICS = defineMetrics({
  outboxMessagesPending: defineMetric({
    name: 'outbox_messages_pending',
    type: 'gauge',
    help: 'Messages written to the transactional outbox and not yet relayed, by topic.',
    labelNames: ['topic'],
  }),
  outboxOldestPendingAgeSeconds: defineMetric({
    name: 'outbox_oldest_pending_age_seconds',
    type: 'gauge',
    help: 'Age in seconds of the oldest message not yet relayed (0 when none), by topic.',
    labelNames: ['topic'],
    unit: 'seconds',
  }),
});

/**
 * Reads one outbox topic's backlog at scrape time into the two outbox gauges. A query that fails or
 * takes over a second leaves that topic's series out of that scrape (the rest is served).
 */
export function reportOutboxBacklog(metrics: AppMetrics, topic: string, backlog: () => Promise<OutboxBacklog>): void {
  // Both gauges come from one query: the collectors of one scrape share the reading in flight.
  let reading: Promise<OutboxBacklog> | undefined;
  const shared = () =>
    (reading ??= backlog().finally(() => {
      reading = undefined;
    }));
  metrics.collectAtScrape(API_METRICS.outboxMessagesPending, async (gauge) => gauge.set({ topic }, (await shared()).pending));
  metrics.collectAtScrape(API_METRICS.outboxOldestPendingAgeSeconds, async (gauge) =>
    gauge.set({ topic }, (await shared()).oldestAgeSeconds),
  );
}
