import { getHeapStatistics } from 'node:v8';
import { Counter, Gauge, Histogram, type Metric, type MetricObject, Registry, type RegistryContentType } from 'prom-client';
import {
  DB_POOL_STATES,
  KNOWN_HTTP_METHODS,
  type LabelsOf,
  METRICS,
  type MetricContract,
  type MetricDefinition,
  metricUnion,
  OTHER_HTTP_METHOD,
  QUEUE_STATES,
  type QueueState,
} from './contract.js';
import { HttpRecorder, type RecordedFamily } from './http-recorder.js';
import { collectRuntimeMetrics, type RuntimeMetrics } from './runtime-metrics.js';

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

/** `text` = Prometheus text format 0.0.4; `openmetrics` = OpenMetrics 1.0.0 (ends with `# EOF`). */
export type ExpositionFormat = 'text' | 'openmetrics';

export interface MetricsOptions {
  /** Value of `app_build_info{version}`. */
  appVersion: string;
  /** Register prom-client's Node.js runtime metrics (event loop lag, GC, heap, handles). Default true. */
  defaultMetrics?: boolean;
  /** Labels added to every series of this registry, e.g. `{ service: 'api' }`. Keep them few and fixed. */
  defaultLabels?: Readonly<Record<string, string>>;
  /** The application's own contracts (`defineMetrics`), registered next to the library's `METRICS`. */
  metrics?: readonly MetricContract[];
  /**
   * The trace id of the active sampled span, or undefined (e.g. read from OpenTelemetry's active
   * span). When given, `http_request_duration_seconds` and `queue_job_duration_seconds` carry
   * `trace_id` exemplars in the OpenMetrics exposition (the text format has none). Leave it unset
   * when tracing is off: the request path then does not even call it.
   */
  exemplarTraceId?: () => string | undefined;
}

/** The prom-client type a definition's handle has: `Counter<L>`, `Gauge<L>` or `Histogram<L>`. */
export type MetricHandle<D extends MetricDefinition> = [D['type']] extends ['counter']
  ? Counter<LabelsOf<D>>
  : [D['type']] extends ['gauge']
    ? Gauge<LabelsOf<D>>
    : [D['type']] extends ['histogram']
      ? Histogram<LabelsOf<D>>
      : Counter<LabelsOf<D>> | Gauge<LabelsOf<D>> | Histogram<LabelsOf<D>>;

/** Reads values into a gauge at scrape time. */
export type GaugeCollector<L extends string> = (gauge: Gauge<L>) => void | Promise<void>;

/** Longest a scrape waits for one scrape-time collector (Prometheus' own timeout is 10 s). */
const COLLECT_TIMEOUT_MS = 1000;

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

/**
 * How prom-client's runtime gauges combine across the workers of a `node:cluster` application,
 * where its own choice (`sum`, or `omit` for the start time) would mislead. Heap and event-loop lag
 * are the worst worker's, what the "heap close to its limit" and "event loop lag" alerts are about
 * (the heap limit is the fullest worker's too, see the contract); the start time is the latest
 * worker's, so `changes()` counts worker restarts. CPU, resident memory, handles and file
 * descriptors stay summed: the instance's total.
 */
export const CLUSTER_RUNTIME_AGGREGATION: Readonly<Record<string, 'max' | 'min'>> = {
  process_start_time_seconds: 'max',
  process_max_fds: 'max',
  nodejs_heap_size_total_bytes: 'max',
  nodejs_heap_size_used_bytes: 'max',
  nodejs_heap_space_size_total_bytes: 'max',
  nodejs_heap_space_size_used_bytes: 'max',
  nodejs_heap_space_size_available_bytes: 'min',
  nodejs_eventloop_lag_seconds: 'max',
  nodejs_eventloop_lag_mean_seconds: 'max',
  nodejs_eventloop_lag_p50_seconds: 'max',
  nodejs_eventloop_lag_p90_seconds: 'max',
  nodejs_eventloop_lag_p99_seconds: 'max',
};

type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;
type Labels = Record<string, string | number>;

/** Every combination of the closed label values, when every label has a closed set; else none. */
function closedLabelSets(def: MetricDefinition): Labels[] {
  if (def.labelNames.length === 0) return [];
  let sets: Labels[] = [{}];
  for (const label of def.labelNames) {
    const values = def.labelValues?.[label];
    if (!values) return [];
    sets = sets.flatMap((set) => values.map((value) => ({ ...set, [label]: value })));
  }
  return sets;
}

/**
 * Makes a handle refuse label values outside the definition's closed sets, with an error naming
 * them, so a typo cannot open a new series. Only the mutators taking labels are wrapped, and only on
 * metrics that have closed sets; the wrapped methods are the handle's public ones.
 */
function enforceClosedValues(metric: AnyMetric, def: MetricDefinition): void {
  const closed = Object.entries<readonly string[] | undefined>(def.labelValues ?? {}).flatMap(([label, values]) =>
    values ? [[label, new Set(values)] as const] : [],
  );
  if (closed.length === 0) return;
  const check = (labels: unknown) => {
    if (typeof labels !== 'object' || labels === null) return;
    for (const [label, allowed] of closed) {
      const value = (labels as Labels)[label];
      if (value !== undefined && !allowed.has(String(value))) {
        throw new Error(`label ${label} of ${def.name} must be one of ${[...allowed].join(', ')}: got "${String(value)}"`);
      }
    }
  };
  const positional = (args: unknown[]) =>
    typeof args[0] === 'object' ? args[0] : Object.fromEntries(def.labelNames.map((name, i) => [name, args[i]]));
  const target = metric as unknown as Record<string, (...args: unknown[]) => unknown>;
  const methods =
    def.type === 'counter'
      ? ['inc']
      : def.type === 'gauge'
        ? ['inc', 'dec', 'set', 'setToCurrentTime', 'startTimer']
        : ['observe', 'startTimer', 'zero'];
  for (const name of methods) {
    const original = target[name].bind(metric);
    target[name] = (...args: unknown[]) => {
      check(args[0]);
      return original(...args);
    };
  }
  const labels = target.labels.bind(metric);
  target.labels = (...args: unknown[]) => {
    check(positional(args));
    return labels(...args);
  };
}

const sameDefinition = (a: MetricDefinition, b: MetricDefinition) => a === b || JSON.stringify(a) === JSON.stringify(b);

/** What prom-client's Registry reads of a metric: its public `MetricObject` fields, `get()` and `reset()`. */
type RegisteredMetric = MetricObject & Pick<Metric, 'get' | 'reset'>;

/** The view of a counter prom-client's OpenMetrics path needs: family named without `_total`. */
function openMetricsCounter(metric: RegisteredMetric): Metric {
  const family = metric.name.replace(/_total$/, '');
  return {
    name: family,
    help: metric.help,
    type: metric.type,
    aggregator: metric.aggregator,
    get: async () => ({ ...(await metric.get()), name: family }),
    reset: () => metric.reset(),
  } as unknown as Metric;
}

/**
 * All metrics of one application, in a registry of its own: several Nest apps in one process
 * (tests, hot reload) never collide with "metric already registered".
 *
 * Every definition of the library's `METRICS` and of the application's contracts is registered once,
 * at construction; `handle(def)` gives the typed prom-client object. The library's own families also
 * have typed hooks (`jobCompleted`, `setQueueDepthSource`…); none of them takes a free-form string
 * that ends up in a label except `queue` and `namespace`, which the application chooses from a fixed
 * set in code, never from request data.
 */
export class AppMetrics {
  /** prom-client's Registry with every family, the HTTP ones included (JSON, `merge`, lookups). */
  readonly registry: Registry = new Registry();
  /** Every definition this registry serves: the library's and the application's. */
  readonly definitions: readonly MetricDefinition[];
  private readonly http = new HttpRecorder(METRICS.httpRequestsTotal, METRICS.httpRequestDurationSeconds);
  private readonly recorded: ReadonlySet<unknown> = new Set<RecordedFamily>([this.http.requestsFamily, this.http.durationFamily]);
  private readonly handles = new Map<string, { readonly def: MetricDefinition; readonly metric: AnyMetric }>();
  private readonly collectors = new Map<string, GaugeCollector<string>[]>();
  private readonly defaultLabels: Readonly<Record<string, string>> | undefined;
  private readonly openMetricsViews = new WeakMap<RegisteredMetric, Metric>();
  private readonly wsConnections;
  private readonly wsOpened;
  private readonly wsMessages;
  private readonly jobsCompleted;
  private readonly jobsFailed;
  private readonly jobDuration;
  private dbPoolSource: (() => DbPoolStats) | undefined;
  private readonly exemplarTraceId: (() => string | undefined) | undefined;
  private readonly runtime: RuntimeMetrics | undefined;

  constructor(options: MetricsOptions) {
    const r = this.registry;
    this.exemplarTraceId = options.exemplarTraceId;
    const defaults = options.defaultLabels ?? {};
    this.defaultLabels = Object.keys(defaults).length > 0 ? { ...defaults } : undefined;
    if (this.defaultLabels) r.setDefaultLabels(this.defaultLabels);
    if (options.defaultMetrics !== false) {
      this.runtime = collectRuntimeMetrics(r);
      // prom-client names three gauges with the `_total` suffix that Prometheus reserves for counters,
      // which `promtool check metrics` rejects. Their labelled twins (`nodejs_active_handles{type}`,
      // `nodejs_active_requests{type}`, `nodejs_active_resources{type}`) carry the same numbers.
      for (const name of MISNAMED_DEFAULT_GAUGES) r.removeSingleMetric(name);
      for (const [name, aggregator] of Object.entries(CLUSTER_RUNTIME_AGGREGATION)) {
        const metric = r.getSingleMetric(name);
        if (metric) (metric as unknown as { aggregator: string }).aggregator = aggregator;
      }
    }
    for (const family of [this.http.requestsFamily, this.http.durationFamily]) r.registerMetric(family as unknown as Metric);

    this.definitions = metricUnion(METRICS, ...(options.metrics ?? []));
    for (const def of this.definitions) {
      if (def !== METRICS.httpRequestsTotal && def !== METRICS.httpRequestDurationSeconds) this.register(def);
    }

    this.wsConnections = this.handle(METRICS.websocketConnections);
    this.wsOpened = this.handle(METRICS.websocketConnectionsOpenedTotal);
    this.wsMessages = this.handle(METRICS.websocketMessagesReceivedTotal);
    this.jobsCompleted = this.handle(METRICS.queueJobsCompletedTotal);
    this.jobsFailed = this.handle(METRICS.queueJobsFailedTotal);
    this.jobDuration = this.handle(METRICS.queueJobDurationSeconds);

    const pool = () => this.dbPoolSource?.();
    this.collectAtScrape(METRICS.dbPoolConnections, (gauge) => {
      const stats = pool();
      if (stats) for (const state of DB_POOL_STATES) gauge.set({ state }, stats[state]);
    });
    this.collectAtScrape(METRICS.dbPoolPendingRequests, (gauge) => {
      const stats = pool();
      if (stats) gauge.set(stats.pending);
    });
    this.collectAtScrape(METRICS.dbPoolMaxConnections, (gauge) => {
      const stats = pool();
      if (stats) gauge.set(stats.max);
    });
    this.collectAtScrape(METRICS.nodejsHeapSizeLimitBytes, (gauge) => gauge.set(getHeapStatistics().heap_size_limit));
    this.handle(METRICS.appBuildInfo).set({ version: options.appVersion, node_version: process.version }, 1);
  }

  private register(def: MetricDefinition): void {
    const collectors = this.collectors;
    const base = { name: def.name, help: def.help, labelNames: [...def.labelNames], registers: [this.registry] };
    let metric: AnyMetric;
    if (def.type === 'counter') metric = new Counter(base);
    else if (def.type === 'histogram') {
      // prom-client keeps exemplars only for histograms built with them (and then observes through
      // the object form, see jobAttemptFinished).
      const enableExemplars = this.exemplarTraceId !== undefined && def.name === METRICS.queueJobDurationSeconds.name;
      // prom-client refuses exemplars at construction when a registry there has the text content
      // type; registered afterwards, the text exposition just leaves them out, as it must.
      metric = new Histogram({
        ...base,
        registers: enableExemplars ? [] : base.registers,
        buckets: [...(def.buckets ?? [])],
        enableExemplars,
      });
      if (enableExemplars) this.registry.registerMetric(metric);
    } else {
      metric = new Gauge({
        ...base,
        aggregator: def.aggregation ?? 'sum',
        // Runs on every scrape. Without collectors the gauge keeps what the application set; with
        // some, it holds what they read now, and one that throws, rejects or takes over a second
        // leaves only its own series out of this scrape (the rest is served).
        async collect() {
          const own = collectors.get(def.name);
          if (!own) return;
          this.reset();
          await Promise.all(
            own.map((collect) =>
              withTimeout(
                Promise.resolve().then(() => collect(this)),
                COLLECT_TIMEOUT_MS,
              ).catch(() => undefined),
            ),
          );
        },
      });
    }
    enforceClosedValues(metric, def);
    // Series whose every label is closed exist at 0 from the start, so `rate()` and alerts see them.
    // Not gauges: a gauge at 0 would claim a reading nobody took.
    for (const labels of closedLabelSets(def)) {
      if (metric instanceof Counter) metric.inc(labels, 0);
      else if (metric instanceof Histogram) metric.zero(labels);
    }
    this.handles.set(def.name, { def, metric });
  }

  /**
   * The prom-client object of a registered definition, typed from it (`Counter<'transport'>`…).
   * Throws when the definition is not in `METRICS` or in a contract given to this registry.
   */
  handle<D extends MetricDefinition>(def: D): MetricHandle<D> {
    const entry = this.handles.get(def.name);
    if (!entry) {
      if (def.name === METRICS.httpRequestsTotal.name || def.name === METRICS.httpRequestDurationSeconds.name) {
        throw new Error(`${def.name} is recorded by the HTTP instrumentation (observeHttpRequest), it has no prom-client handle`);
      }
      throw new Error(
        `metric ${def.name} is in no registered contract: add its contract to ObservabilityModule.forRoot({ metrics: [...] })`,
      );
    }
    if (!sameDefinition(entry.def, def)) throw new Error(`metric ${def.name} differs from the definition registered under that name`);
    return entry.metric as MetricHandle<D>;
  }

  /**
   * Reads a gauge at scrape time: exact when Prometheus looks, free in between. Several collectors
   * may share a gauge (one per queue, per topic…), each setting its own series; the gauge is reset
   * before they run. A collector that throws, rejects or takes over 1 s leaves its series absent for
   * that scrape, and the scrape is served.
   */
  collectAtScrape<D extends MetricDefinition<string, 'gauge'>>(def: D, collect: GaugeCollector<LabelsOf<D>>): void {
    this.handle(def);
    const own = this.collectors.get(def.name) ?? [];
    own.push(collect as GaugeCollector<string>);
    this.collectors.set(def.name, own);
  }

  /** Nest calls it when the application closes: the GC profiler stops (tests and hot reload start many apps in one process). */
  onModuleDestroy(): void {
    this.runtime?.stop();
  }

  /** Folds any method outside the closed set into `OTHER`. */
  static methodLabel(method: string | undefined): string {
    return method !== undefined && KNOWN_METHODS.has(method) ? method : OTHER_HTTP_METHOD;
  }

  /** Records one answered request. `route` must be a route template or `UNMATCHED_ROUTE`. */
  observeHttpRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.http.observe(method, route, statusCode, seconds, this.exemplarTraceId?.());
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
    if (this.exemplarTraceId === undefined) this.jobDuration.observe({ queue }, seconds);
    else {
      const traceId = this.exemplarTraceId();
      // prom-client types exemplar labels as the metric's own label names, which `trace_id` is not.
      const exemplarLabels = (traceId === undefined ? {} : { trace_id: traceId }) as Record<string, string>;
      this.jobDuration.observe({ labels: { queue }, value: seconds, exemplarLabels: exemplarLabels as Partial<Record<'queue', string>> });
    }
  }

  jobCompleted(queue: string): void {
    this.jobsCompleted.inc({ queue });
  }

  /** Call once per job, when its last attempt has failed; retried attempts are not failures yet. */
  jobFailed(queue: string): void {
    this.jobsFailed.inc({ queue });
  }

  /**
   * The source is read at scrape time, so depth is exact when Prometheus looks and costs nothing in
   * between. A backend that is down or slow leaves that queue's depth series out of that scrape.
   * `shared`: every process reads the same queue (BullMQ in Redis), so the workers of a `node:cluster`
   * application report its depth once (their maximum) instead of adding it up; an in-process queue is
   * each worker's own and is summed.
   */
  setQueueDepthSource(queue: string, source: () => Promise<QueueDepth> | QueueDepth, options: { shared?: boolean } = {}): void {
    this.declareQueue(queue);
    // A queue in Redis reads the same in every worker of a cluster: its depth is not theirs to add up.
    if (options.shared) (this.handle(METRICS.queueJobs) as unknown as { aggregator: string }).aggregator = 'max';
    this.collectAtScrape(METRICS.queueJobs, async (gauge) => {
      const depth = await source();
      for (const state of QUEUE_STATES) gauge.set({ queue, state }, depth[state]);
    });
  }

  setDbPoolSource(source: () => DbPoolStats): void {
    this.dbPoolSource = source;
  }

  /**
   * The exposition in the given format. Everything but the two HTTP families is formatted by
   * prom-client (`Registry.metrics()`, its OpenMetrics path included); the HTTP families are written
   * by their recorder in the same format and put first.
   */
  async render(format: ExpositionFormat = 'text'): Promise<string> {
    const openMetrics = format === 'openmetrics';
    const view = new Registry<RegistryContentType>();
    view.setContentType(AppMetrics.contentTypeOf(format));
    if (this.defaultLabels) view.setDefaultLabels(this.defaultLabels);
    for (const metric of this.registry.getMetricsAsArray() as RegisteredMetric[]) {
      if (this.recorded.has(metric)) continue;
      view.registerMetric(openMetrics && String(metric.type) === 'counter' ? this.openMetricsView(metric) : (metric as unknown as Metric));
    }
    const http = `${this.http.requestsFamily.render(openMetrics, this.defaultLabels)}\n${openMetrics ? '' : '\n'}${this.http.durationFamily.render(openMetrics, this.defaultLabels)}`;
    return `${http}\n${openMetrics ? '' : '\n'}${await view.metrics()}`;
  }

  /**
   * prom-client's OpenMetrics path renames a counter in place (drops `_total`), which would rename it
   * in the text format too; it is given a view of each counter instead, kept per counter.
   */
  private openMetricsView(metric: RegisteredMetric): Metric {
    let view = this.openMetricsViews.get(metric);
    if (!view) {
      view = openMetricsCounter(metric);
      this.openMetricsViews.set(metric, view);
    }
    return view;
  }

  /** Content-Type of an exposition: prom-client's `Registry.PROMETHEUS_CONTENT_TYPE` or `OPENMETRICS_CONTENT_TYPE`. */
  static contentTypeOf(format: ExpositionFormat): RegistryContentType {
    return format === 'openmetrics' ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE;
  }

  /** Content-Type of the text format (kept for callers of `render()` without a format). */
  get contentType(): string {
    return AppMetrics.contentTypeOf('text');
  }
}
