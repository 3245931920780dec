import { METRICS, NODE_RUNTIME_METRICS } from '@obsnest/observability/contract';
import { type Dashboard, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { contextOf, DEFAULT_CONFIG, type MixinConfig } from '../../../src/config.js';
import { instanceVariable, jobVariable, newDashboard } from '../dashboard.js';
import { applicationMetricPanels } from './application-metrics.js';
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

const httpRequestDuration = (c: MixinConfig) =>
  timeseries({
    title: 'HTTP Request Duration',
    description:
      'Median and 95th percentile of the time from request received to response finished, over all routes. ' +
      'The dashed line is the p95 target of the ApiLatencyP95High alert.',
    unit: 's',
    min: 0,
    thresholds: [
      [null, 'green'],
      [c.thresholds.latencyP95Seconds, 'orange'],
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

const errorRate = (c: MixinConfig) =>
  timeseries({
    title: 'Error Rate',
    description: 'Share of requests answered with a 5xx status. Orange from 1 %; red from the ApiHighErrorRatio threshold.',
    unit: 'percentunit',
    min: 0,
    thresholds: [
      [null, 'green'],
      [0.01, 'orange'],
      [c.thresholds.errorRatio, 'red'],
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

const heapUsedRatio = (c: MixinConfig) =>
  gauge({
    title: 'Heap Used Ratio',
    description: 'V8 heap used against its hard limit, per instance; the colours follow NodejsHeapNearLimit.',
    unit: 'percentunit',
    min: 0,
    max: 1,
    thresholds: [
      [null, 'green'],
      [c.thresholds.heapUsedRatio.warning, 'orange'],
      [c.thresholds.heapUsedRatio.critical, 'red'],
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

const eventLoopLag = (c: MixinConfig) =>
  timeseries({
    title: 'Event Loop Lag',
    description:
      'Delay of the event loop per instance: every request waits at least this long. The dashed line is the ' +
      'NodejsEventLoopLagHigh threshold on the p99.',
    unit: 's',
    min: 0,
    thresholds: [
      [null, 'green'],
      [c.thresholds.eventLoopLagSeconds, 'orange'],
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

const responseTimeByRoute = (c: MixinConfig) =>
  timeseries({
    title: 'HTTP Response Time P95 / P99',
    description: '95th and 99th percentiles of request duration per route template. The dashed line is the latency SLO bound.',
    unit: 's',
    min: 0,
    thresholds: [
      [null, 'green'],
      [c.objectives.latency.thresholdSeconds, 'red'],
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

/**
 * `config` gives the thresholds, the default job, the extensions' panels (after the queue ones)
 * and the application's own metrics (a row of one panel each, at the end).
 */
export function nestjsBackendDashboard(config: MixinConfig = DEFAULT_CONFIG): Dashboard {
  const context = contextOf(config);
  const dashboard = newDashboard({
    uid: 'nestjs-backend',
    title: 'NestJS Backend',
    description: 'HTTP, WebSocket, queue and Node.js runtime metrics of the API.',
    tags: ['nestjs', config.job],
  })
    .withVariable(jobVariable(config.job))
    .withVariable(instanceVariable())
    .withPanel(httpRequestRate())
    .withPanel(httpRequestDuration(config))
    .withPanel(totalRequests())
    .withPanel(statusCodesDistribution())
    .withPanel(errorRate(config))
    .withPanel(websocketConnections())
    .withPanel(queueJobs())
    .withPanel(queueProcessingRate());
  for (const extension of config.extensions) for (const panel of extension.backendPanels?.(context) ?? []) dashboard.withPanel(panel);
  dashboard
    .withRow(new RowBuilder('Runtime'))
    .withPanel(heapUsedRatio(config))
    .withPanel(uptime())
    .withPanel(eventLoopLag(config))
    .withPanel(heapUsedAndLimit())
    .withPanel(activeHandles())
    .withPanel(responseTimeByRoute(config))
    .withPanel(dbConnectionPool())
    .withPanel(httpStatusCodes());
  const application = applicationMetricPanels(config.applicationMetrics);
  if (application.length > 0) {
    dashboard.withRow(new RowBuilder('Application metrics'));
    for (const panel of application) dashboard.withPanel(panel);
  }
  return dashboard.build();
}
