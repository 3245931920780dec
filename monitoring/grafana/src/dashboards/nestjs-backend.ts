import { API_METRICS } from '@obsnest/api/metrics';
import { METRICS, NODE_RUNTIME_METRICS } from '@obsnest/observability';
import { type Dashboard, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { instanceVariable, jobVariable, newDashboard } from '../dashboard.js';
import { ALERT_THRESHOLDS, LATENCY_SLO_THRESHOLD_SECONDS } from '../objectives.js';
import { gauge, pieChart, stat, timeseries } from '../panels.js';
import { DASHBOARD_RANGE, eq, increase, max, quantile, rate, ratioOrZero, re, selector, sum } from '../promql.js';

// Panels are factories: a builder's output is mutated when placed on a dashboard, so every
// build starts from fresh ones.

/**
 * The application dashboard: the eight panels of the seed guide (HTTP, WebSocket, queue), then a
 * "Runtime" row with the Node.js counterparts of a JVM service dashboard (heap, event loop,
 * handles, uptime, latency quantiles, connection pool, status codes).
 * Every query is scoped to the selected job and instances.
 */

const TARGET = [eq('job', '$job'), re('instance', '$instance')];
const on = (metric: string, ...matchers: string[]): string => selector(metric, [...TARGET, ...matchers]);

const http = METRICS.httpRequestsTotal.name;
const duration = METRICS.httpRequestDurationSeconds;
const serverErrors = re('status_code', '5..');

const httpRequestRate = () =>
  timeseries({
    title: 'HTTP Request Rate',
    description: 'Requests answered per second, by method, route template and status code.',
    unit: 'reqps',
    queries: [{ expr: sum(rate(on(http)), ['method', 'route', 'status_code']), legend: '{{method}} {{route}} {{status_code}}' }],
  });

const httpRequestDuration = () =>
  timeseries({
    title: 'HTTP Request Duration',
    description:
      'Median and 95th percentile of the time from request received to response finished, over all routes. ' +
      'The dashed line is the p95 target of the ApiLatencyP95High alert.',
    unit: 's',
    min: 0,
    thresholds: [
      [null, 'green'],
      [ALERT_THRESHOLDS.latencyP95Seconds.value, 'orange'],
    ],
    queries: [
      { expr: quantile(0.95, duration, TARGET), legend: 'P95' },
      { expr: quantile(0.5, duration, TARGET), legend: 'P50' },
    ],
  });

const totalRequests = () =>
  stat({
    title: 'Total Requests',
    description: 'Requests answered over the last 5 minutes.',
    unit: 'short',
    decimals: 0,
    noValue: '0',
    queries: [{ expr: sum(increase(on(http), '5m')), legend: 'requests' }],
  });

const statusCodesDistribution = () =>
  pieChart({
    title: 'Status Codes Distribution',
    description: 'Share of each status code among the requests answered over the dashboard time range.',
    unit: 'short',
    decimals: 0,
    queries: [{ expr: sum(increase(on(http), DASHBOARD_RANGE), ['status_code']), legend: '{{status_code}}', instant: true }],
  });

const errorRate = () =>
  timeseries({
    title: 'Error Rate',
    description: 'Share of requests answered with a 5xx status. Orange from 1 %; red from the ApiHighErrorRatio threshold.',
    unit: 'percentunit',
    min: 0,
    thresholds: [
      [null, 'green'],
      [0.01, 'orange'],
      [ALERT_THRESHOLDS.errorRatio.value, 'red'],
    ],
    queries: [{ expr: ratioOrZero(sum(rate(on(http, serverErrors))), sum(rate(on(http)))), legend: '5xx share' }],
  });

const websocketConnections = () =>
  stat({
    title: 'WebSocket Connections',
    description: 'Socket.IO connections open right now, over all namespaces.',
    unit: 'short',
    decimals: 0,
    noValue: '0',
    sparkline: true,
    queries: [{ expr: sum(on(METRICS.websocketConnections.name)), legend: 'connections' }],
  });

// Every replica reports the depth of the shared queue: `max`, not `sum`, across instances.
const queueDepth = max(on(METRICS.queueJobs.name), ['queue', 'state']);
const queueJobs = () =>
  timeseries({
    title: 'Queue Jobs',
    width: 9,
    description: 'Jobs in each queue by state (waiting, active, delayed), and their total.',
    unit: 'short',
    min: 0,
    queries: [
      { expr: queueDepth, legend: '{{queue}} {{state}}' },
      { expr: sum(queueDepth), legend: 'total' },
    ],
  });

// Every replica reports the same shared outbox table: `max` across instances, as for the queue.
const outboxPending = () =>
  timeseries({
    title: 'Outbox Pending Messages',
    width: 12,
    description:
      'Messages written with their user in one transaction and not yet handed to the queue. Grows while Redis is down and drains by itself after.',
    unit: 'short',
    min: 0,
    queries: [{ expr: max(on(API_METRICS.outboxMessagesPending.name), ['topic']), legend: '{{topic}}' }],
  });

const outboxOldestAge = () =>
  timeseries({
    title: 'Outbox Oldest Message Age',
    width: 12,
    description: 'How long the oldest message has waited to be relayed. The dashed line is the OutboxRelayStalled threshold.',
    unit: 's',
    min: 0,
    thresholds: [
      [null, 'green'],
      [ALERT_THRESHOLDS.outboxOldestAgeSeconds.value, 'orange'],
    ],
    queries: [{ expr: max(on(API_METRICS.outboxOldestPendingAgeSeconds.name), ['topic']), legend: '{{topic}}' }],
  });

const queueProcessingRate = () =>
  timeseries({
    title: 'Queue Processing Rate',
    width: 9,
    description: 'Jobs finished per second: completed, and failed for good after every attempt.',
    unit: 'ops',
    min: 0,
    queries: [
      { expr: sum(rate(on(METRICS.queueJobsCompletedTotal.name)), ['queue']), legend: '{{queue}} completed' },
      { expr: sum(rate(on(METRICS.queueJobsFailedTotal.name)), ['queue']), legend: '{{queue}} failed' },
    ],
  });

const perInstance = (metric: string): string => sum(on(metric), ['instance']);

const heapUsedRatio = () =>
  gauge({
    title: 'Heap Used Ratio',
    description: 'V8 heap used against its hard limit, per instance; the colours follow NodejsHeapNearLimit.',
    unit: 'percentunit',
    min: 0,
    max: 1,
    thresholds: [
      [null, 'green'],
      [ALERT_THRESHOLDS.heapUsedRatioWarning.value, 'orange'],
      [ALERT_THRESHOLDS.heapUsedRatioCritical.value, 'red'],
    ],
    queries: [
      {
        expr: `${perInstance(NODE_RUNTIME_METRICS.heapSizeUsedBytes)} / ${perInstance(METRICS.nodejsHeapSizeLimitBytes.name)}`,
        legend: '{{instance}}',
      },
    ],
  });

const uptime = () =>
  stat({
    title: 'Uptime',
    description: 'Time since each instance started.',
    unit: 's',
    decimals: 0,
    queries: [{ expr: `time() - ${max(on(NODE_RUNTIME_METRICS.processStartTimeSeconds), ['instance'])}`, legend: '{{instance}}' }],
  });

const eventLoopLag = () =>
  timeseries({
    title: 'Event Loop Lag',
    description:
      'Delay of the event loop per instance: every request waits at least this long. The dashed line is the ' +
      'NodejsEventLoopLagHigh threshold on the p99.',
    unit: 's',
    min: 0,
    thresholds: [
      [null, 'green'],
      [ALERT_THRESHOLDS.eventLoopLagSeconds.value, 'orange'],
    ],
    queries: [
      { expr: max(on(NODE_RUNTIME_METRICS.eventLoopLagP99), ['instance']), legend: '{{instance}} p99' },
      { expr: max(on(NODE_RUNTIME_METRICS.eventLoopLagMean), ['instance']), legend: '{{instance}} mean' },
    ],
  });

const activeHandles = () =>
  timeseries({
    title: 'Active Handles',
    description: 'Open sockets, timers and other libuv handles per instance; steady growth points to a leak.',
    unit: 'short',
    min: 0,
    queries: [{ expr: perInstance(NODE_RUNTIME_METRICS.activeHandles), legend: '{{instance}}' }],
  });

const heapUsedAndLimit = () =>
  timeseries({
    title: 'Heap Used / Limit',
    description: 'V8 heap used, heap allocated and hard heap limit, with the resident set size of the process.',
    unit: 'bytes',
    min: 0,
    queries: [
      { expr: perInstance(NODE_RUNTIME_METRICS.heapSizeUsedBytes), legend: '{{instance}} used' },
      { expr: perInstance(NODE_RUNTIME_METRICS.heapSizeTotalBytes), legend: '{{instance}} allocated' },
      { expr: perInstance(METRICS.nodejsHeapSizeLimitBytes.name), legend: '{{instance}} limit' },
      { expr: perInstance(NODE_RUNTIME_METRICS.processResidentMemoryBytes), legend: '{{instance}} RSS' },
    ],
  });

const responseTimeByRoute = () =>
  timeseries({
    title: 'HTTP Response Time P95 / P99',
    description: '95th and 99th percentiles of request duration per route template. The dashed line is the latency SLO bound.',
    unit: 's',
    min: 0,
    thresholds: [
      [null, 'green'],
      [LATENCY_SLO_THRESHOLD_SECONDS, 'red'],
    ],
    legendCalcs: ['mean', 'max'],
    queries: [
      { expr: quantile(0.95, duration, TARGET, ['route']), legend: '{{route}} P95', exemplar: true },
      { expr: quantile(0.99, duration, TARGET, ['route']), legend: '{{route}} P99', exemplar: true },
    ],
  });

const dbConnectionPool = () =>
  timeseries({
    title: 'DB Connection Pool',
    description:
      'Pool connections checked out (active) and open but free (idle), queries waiting for a connection ' +
      '(pending), and the configured maximum.',
    unit: 'short',
    min: 0,
    queries: [
      { expr: sum(on(METRICS.dbPoolConnections.name), ['state']), legend: '{{state}}' },
      { expr: sum(on(METRICS.dbPoolPendingRequests.name)), legend: 'pending' },
      { expr: sum(on(METRICS.dbPoolMaxConnections.name)), legend: 'max' },
    ],
  });

const httpStatusCodes = () =>
  timeseries({
    title: 'HTTP Status Codes',
    description: 'Requests answered per second by status code.',
    unit: 'reqps',
    min: 0,
    width: 24,
    queries: [{ expr: sum(rate(on(http)), ['status_code']), legend: '{{status_code}}' }],
  });

export function nestjsBackendDashboard(): Dashboard {
  return newDashboard({
    uid: 'nestjs-backend',
    title: 'NestJS Backend',
    description: 'HTTP, WebSocket, queue and Node.js runtime metrics of the API.',
    tags: ['nestjs', 'api'],
  })
    .withVariable(jobVariable())
    .withVariable(instanceVariable())
    .withPanel(httpRequestRate())
    .withPanel(httpRequestDuration())
    .withPanel(totalRequests())
    .withPanel(statusCodesDistribution())
    .withPanel(errorRate())
    .withPanel(websocketConnections())
    .withPanel(queueJobs())
    .withPanel(queueProcessingRate())
    .withPanel(outboxPending())
    .withPanel(outboxOldestAge())
    .withRow(new RowBuilder('Runtime'))
    .withPanel(heapUsedRatio())
    .withPanel(uptime())
    .withPanel(eventLoopLag())
    .withPanel(heapUsedAndLimit())
    .withPanel(activeHandles())
    .withPanel(responseTimeByRoute())
    .withPanel(dbConnectionPool())
    .withPanel(httpStatusCodes())
    .build();
}
