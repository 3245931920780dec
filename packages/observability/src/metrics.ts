import { getHeapStatistics } from 'node:v8';
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  Registry,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';
import { HttpRecorder, type RecordedFamily } from './http-recorder.js';
import {
  DB_POOL_STATES,
  KNOWN_HTTP_METHODS,
  METRICS,
  type MetricDefinition,
  OTHER_HTTP_METHOD,
  QUEUE_STATES,
  type QueueState,
} from './contract.js';

export interface DbPoolStats {
  /** Connections checked out by a query or transaction. */
  active: number;
  /** Open connections waiting in the pool. */
  idle: number;
  /** Callers waiting for a connection. */
  pending: number;
  /** Configured pool size. */
  max: number;
}

export type QueueDepth = Record<QueueState, number>;

/** What a transactional outbox has not relayed yet. */
export interface OutboxBacklog {
  pending: number;
  /** Age of the oldest pending message in seconds; 0 when nothing is pending. */
  oldestAgeSeconds: number;
}

export interface MetricsOptions {
  /** Value of `app_build_info{version}`. */
  appVersion: string;
  /** Register prom-client's Node.js runtime metrics (event loop lag, GC, heap, handles). Default true. */
  defaultMetrics?: boolean;
  /** Labels added to every series of this registry, e.g. `{ service: 'api' }`. Keep them few and fixed. */
  defaultLabels?: Record<string, string>;
}

/**
 * A prom-client Registry that lets the HTTP recorder render its own families, in their place in the
 * exposition and with the registry's default labels; every other metric goes through prom-client.
 */
class AppRegistry extends Registry {
  private readonly recorded = new Set<unknown>();

  registerRecorded(family: RecordedFamily): void {
    this.recorded.add(family);
    this.registerMetric(family as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  // Not in prom-client's typings, but the documented-by-code extension point `metrics()` calls per family.
  async getMetricsAsString(metric: unknown): Promise<string> {
    if (this.recorded.has(metric)) {
      const defaults = (this as unknown as { _defaultLabels: Record<string, string> })._defaultLabels;
      return (metric as RecordedFamily).render(Object.keys(defaults).length > 0 ? defaults : undefined);
    }
    return (Registry.prototype as unknown as { getMetricsAsString(m: unknown): Promise<string> }).getMetricsAsString.call(this, metric);
  }
}

/** Longest a scrape waits for a queue backend's job counts (Prometheus' own timeout is 10 s). */
const DEPTH_TIMEOUT_MS = 1000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const KNOWN_METHODS: ReadonlySet<string> = new Set(KNOWN_HTTP_METHODS);

/** prom-client default metrics dropped from the registry: gauges named like counters (see the constructor). */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

function counter<L extends string>(registry: Registry, def: MetricDefinition<L>, extra: Partial<CounterConfiguration<L>> = {}) {
  return new Counter<L>({ name: def.name, help: def.help, labelNames: def.labelNames, registers: [registry], ...extra });
}

function gauge<L extends string>(registry: Registry, def: MetricDefinition<L>, extra: Partial<GaugeConfiguration<L>> = {}) {
  return new Gauge<L>({ name: def.name, help: def.help, labelNames: def.labelNames, registers: [registry], ...extra });
}

function histogram<L extends string>(registry: Registry, def: MetricDefinition<L>, extra: Partial<HistogramConfiguration<L>> = {}) {
  return new Histogram<L>({
    name: def.name,
    help: def.help,
    labelNames: def.labelNames,
    buckets: def.buckets ? [...def.buckets] : undefined,
    registers: [registry],
    ...extra,
  });
}

/**
 * All metrics of one application, in a registry of its own: several Nest apps in one process
 * (tests, hot reload) never collide with "metric already registered".
 *
 * The methods are the typed hooks the application calls; none of them takes a free-form string
 * that ends up in a label except `queue` and `namespace`, which the application chooses from a
 * fixed set in code, never from request data.
 */
export class AppMetrics {
  readonly registry: Registry = new AppRegistry();
  private readonly http = new HttpRecorder(METRICS.httpRequestsTotal, METRICS.httpRequestDurationSeconds);
  private readonly wsConnections;
  private readonly wsOpened;
  private readonly wsMessages;
  private readonly jobsCompleted;
  private readonly jobsFailed;
  private readonly jobDuration;
  private readonly queueDepthSources = new Map<string, () => Promise<QueueDepth> | QueueDepth>();
  private readonly outboxSources = new Map<string, () => Promise<OutboxBacklog> | OutboxBacklog>();
  private dbPoolSource: (() => DbPoolStats) | undefined;

  constructor(options: MetricsOptions) {
    const r = this.registry;
    if (options.defaultLabels) r.setDefaultLabels(options.defaultLabels);
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: r });
      // prom-client names three gauges with the `_total` suffix that Prometheus reserves for counters,
      // which `promtool check metrics` rejects. Their labelled twins (`nodejs_active_handles{type}`,
      // `nodejs_active_requests{type}`, `nodejs_active_resources{type}`) carry the same numbers.
      for (const name of MISNAMED_DEFAULT_GAUGES) r.removeSingleMetric(name);
    }

    (r as AppRegistry).registerRecorded(this.http.requestsFamily);
    (r as AppRegistry).registerRecorded(this.http.durationFamily);
    this.wsConnections = gauge(r, METRICS.websocketConnections);
    this.wsOpened = counter(r, METRICS.websocketConnectionsOpenedTotal);
    this.wsMessages = counter(r, METRICS.websocketMessagesReceivedTotal);
    this.jobsCompleted = counter(r, METRICS.queueJobsCompletedTotal);
    this.jobsFailed = counter(r, METRICS.queueJobsFailedTotal);
    this.jobDuration = histogram(r, METRICS.queueJobDurationSeconds);

    const depthSources = this.queueDepthSources;
    gauge(r, METRICS.queueJobs, {
      async collect() {
        this.reset();
        await Promise.all(
          [...depthSources].map(async ([queue, source]) => {
            // A queue backend that is down must not fail the whole scrape: its depth series go
            // absent for this scrape (readiness and the exporters tell why) and the rest is served.
            const depth = await withTimeout(Promise.resolve().then(source), DEPTH_TIMEOUT_MS).catch(() => undefined);
            if (depth) for (const state of QUEUE_STATES) this.set({ queue, state }, depth[state]);
          }),
        );
      },
    });

    const outboxSources = this.outboxSources;
    const outboxGauge = (def: MetricDefinition<'topic'>, value: (backlog: OutboxBacklog) => number) =>
      gauge(r, def, {
        async collect() {
          this.reset();
          await Promise.all(
            [...outboxSources].map(async ([topic, source]) => {
              const backlog = await withTimeout(Promise.resolve().then(source), DEPTH_TIMEOUT_MS).catch(() => undefined);
              if (backlog) this.set({ topic }, value(backlog));
            }),
          );
        },
      });
    outboxGauge(METRICS.outboxMessagesPending, (b) => b.pending);
    outboxGauge(METRICS.outboxOldestPendingAgeSeconds, (b) => b.oldestAgeSeconds);

    const pool = () => this.dbPoolSource?.();
    gauge(r, METRICS.dbPoolConnections, {
      collect() {
        const stats = pool();
        if (!stats) return;
        for (const state of DB_POOL_STATES) this.set({ state }, stats[state]);
      },
    });
    gauge(r, METRICS.dbPoolPendingRequests, {
      collect() {
        const stats = pool();
        if (stats) this.set(stats.pending);
      },
    });
    gauge(r, METRICS.dbPoolMaxConnections, {
      collect() {
        const stats = pool();
        if (stats) this.set(stats.max);
      },
    });
    gauge(r, METRICS.nodejsHeapSizeLimitBytes, {
      collect() {
        this.set(getHeapStatistics().heap_size_limit);
      },
    });
    gauge(r, METRICS.appBuildInfo).set({ version: options.appVersion, node_version: process.version }, 1);
  }

  /** Folds any method outside the closed set into `OTHER`. */
  static methodLabel(method: string | undefined): string {
    return method !== undefined && KNOWN_METHODS.has(method) ? method : OTHER_HTTP_METHOD;
  }

  /** Records one answered request. `route` must be a route template or `UNMATCHED_ROUTE`. */
  observeHttpRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.http.observe(method, route, statusCode, seconds);
  }

  /** HTTP label sets recorded so far (method × route × status), the number a cardinality bound applies to. */
  get httpSeriesCount(): number {
    return this.http.seriesCount;
  }

  websocketConnected(namespace: string): void {
    this.wsConnections.inc({ namespace });
    this.wsOpened.inc({ namespace });
  }

  websocketDisconnected(namespace: string): void {
    this.wsConnections.dec({ namespace });
  }

  websocketMessageReceived(namespace: string): void {
    this.wsMessages.inc({ namespace });
  }

  /** Makes the series exist at 0 before the first event, so `rate()` and alerts see them from the start. */
  declareWebsocketNamespace(namespace: string): void {
    this.wsConnections.inc({ namespace }, 0);
    this.wsOpened.inc({ namespace }, 0);
    this.wsMessages.inc({ namespace }, 0);
  }

  declareQueue(queue: string): void {
    this.jobsCompleted.inc({ queue }, 0);
    this.jobsFailed.inc({ queue }, 0);
  }

  jobAttemptFinished(queue: string, seconds: number): void {
    this.jobDuration.observe({ queue }, seconds);
  }

  jobCompleted(queue: string): void {
    this.jobsCompleted.inc({ queue });
  }

  /** Call once per job, when its last attempt has failed; retried attempts are not failures yet. */
  jobFailed(queue: string): void {
    this.jobsFailed.inc({ queue });
  }

  /** The source is read at scrape time, so depth is exact when Prometheus looks and costs nothing in between. */
  setQueueDepthSource(queue: string, source: () => Promise<QueueDepth> | QueueDepth): void {
    this.declareQueue(queue);
    this.queueDepthSources.set(queue, source);
  }

  /**
   * A transactional outbox's backlog, read at scrape time like the queue depth. A source that
   * fails or takes over a second leaves its series absent for that scrape; the rest is served.
   */
  setOutboxSource(topic: string, source: () => Promise<OutboxBacklog> | OutboxBacklog): void {
    this.outboxSources.set(topic, source);
  }

  setDbPoolSource(source: () => DbPoolStats): void {
    this.dbPoolSource = source;
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
