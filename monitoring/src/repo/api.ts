import { API_METRICS } from '@obsnest/api/metrics';
import { defineConfig, type MetricDefinitionLike, type MixinConfig, type MixinExtension } from '../config.js';
import { PANEL_TARGET } from '../../grafana/src/dashboards/application-metrics.js';
import { timeseries } from '../../grafana/src/panels.js';
import { compare, max, selector } from '../../grafana/src/promql.js';
import { spelled } from '../rules/text.js';

/**
 * This repository's own use of the mixin: job `api`, plus what only this application has, the
 * transactional outbox, added through the extension hook like any application would.
 *
 * The API's own metric contract is read here, from the API package (the tests read it from here too).
 */
export { API_METRICS };

/** Age of the oldest outbox message not yet relayed from which OutboxRelayStalled fires, seconds. */
export const OUTBOX_STALLED_AFTER_SECONDS = 300;

// Every replica reports the same shared outbox table: `max`, not `sum`, across instances.
const outbox: MixinExtension = {
  name: 'outbox',
  ruleGroups: ({ jobMatcher }) => [
    {
      name: 'queue',
      rules: [
        {
          alert: 'OutboxRelayStalled',
          comment: 'Several replicas each report the same shared outbox table: max, not sum.',
          expr: compare(
            max(selector(API_METRICS.outboxOldestPendingAgeSeconds.name, [jobMatcher]), ['job', 'topic']),
            '>',
            OUTBOX_STALLED_AFTER_SECONDS,
          ),
          for: '5m',
          severity: 'warning',
          summary: 'Outbox {{ $labels.topic }}: oldest message waiting {{ $value | humanizeDuration }}',
          description:
            'The oldest {{ $labels.topic }} message in the transactional outbox ({{ $labels.job }}) has waited ' +
            `{{ $value | humanizeDuration }} to be relayed to the queue (threshold ${spelled(OUTBOX_STALLED_AFTER_SECONDS)}): ` +
            'the queue (Redis) is unreachable or the relay is stuck. Nothing is lost, the messages are sent once the relay ' +
            'catches up, but they are late.',
          firstCheck:
            'Is Redis reachable (`/health/ready`, RedisDown)? Then the API log (`component: outbox-relay`) for the error; ' +
            `\`${API_METRICS.outboxMessagesPending.name}\` should fall once it recovers.`,
        },
      ],
    },
  ],
  backendPanels: () => [
    timeseries({
      title: 'Outbox Pending Messages',
      width: 12,
      description:
        'Messages written with their user in one transaction and not yet handed to the queue. Grows while Redis is down and drains by itself after.',
      unit: 'short',
      min: 0,
      queries: [{ expr: max(selector(API_METRICS.outboxMessagesPending.name, [...PANEL_TARGET]), ['topic']), legend: '{{topic}}' }],
    }),
    timeseries({
      title: 'Outbox Oldest Message Age',
      width: 12,
      description: 'How long the oldest message has waited to be relayed. The dashed line is the OutboxRelayStalled threshold.',
      unit: 's',
      min: 0,
      thresholds: [
        [null, 'green'],
        [OUTBOX_STALLED_AFTER_SECONDS, 'orange'],
      ],
      queries: [{ expr: max(selector(API_METRICS.outboxOldestPendingAgeSeconds.name, [...PANEL_TARGET]), ['topic']), legend: '{{topic}}' }],
    }),
  ],
};

/** The API's metrics the outbox panels draw by hand; every other one gets a generated panel. */
const DRAWN_BY_HAND = new Set([API_METRICS.outboxMessagesPending.name, API_METRICS.outboxOldestPendingAgeSeconds.name]);

/**
 * The config for a version of the API's contract: a metric added to `API_METRICS` gets its panel
 * with no edit here (the tests pass a contract with one more metric to prove it).
 */
export function apiConfig(contract: Readonly<Record<string, MetricDefinitionLike>> = API_METRICS): MixinConfig {
  return defineConfig({
    job: 'api',
    // Compose runs Jaeger, Loki and VictoriaMetrics beside Grafana (docker-compose.yml).
    grafana: { jaegerUrl: 'http://jaeger:16686', lokiUrl: 'http://loki:3100', longTermUrl: 'http://victoria-metrics:8428' },
    applicationMetrics: Object.values(contract).filter((metric) => !DRAWN_BY_HAND.has(metric.name)),
    extensions: [outbox],
  });
}

export const API_CONFIG: MixinConfig = apiConfig();

export default API_CONFIG;
