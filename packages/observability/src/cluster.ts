import nodeCluster, { type Cluster, type Worker } from 'node:cluster';
import { AggregatorRegistry, type Metric, Registry, type RegistryContentType } from 'prom-client';
import type { ExpositionFormat } from './metrics.js';

/**
 * Metrics of a `node:cluster` application, aggregated across its workers.
 *
 * Why: the workers of one cluster share one port and the primary hands each connection to the next
 * worker, so a scrape of `/metrics` reads one worker at random. Counters then jump between the
 * workers' values; Prometheus takes every drop for a reset, and `rate()` comes out inflated
 * (prom-client issues 80, 165, 239). Here, a worker that is asked for `/metrics` asks the primary,
 * which collects every worker's `Registry.getMetricsAsJSON()` over the cluster's IPC channel, sums
 * them with prom-client's `AggregatorRegistry.aggregate` (each metric by its `aggregator`), and
 * answers the asking worker, which renders the result in the format the scraper negotiated.
 *
 * Counters and histograms stay monotonic across worker exits: a worker that stops hands over its
 * final values, and one that dies keeps the values it had at the last collection (both are summed in
 * from then on), and no cumulative sample is ever served below what was served before (what the
 * dead worker counted after the last collection is lost, as it would be in a single process).
 * Gauges of a worker that is gone go with it.
 *
 * This file loads neither NestJS nor anything of the application: the primary imports it alone
 * (`@obsnest/observability/cluster`).
 */

/** prom-client's per-metric aggregation across workers (`aggregator` of a metric's configuration). */
export type ClusterAggregator = 'sum' | 'first' | 'min' | 'max' | 'average' | 'omit';

export interface MetricSample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** One family as `Registry.getMetricsAsJSON()` returns it (what the workers send). */
export interface MetricFamilyJson {
  name: string;
  help: string;
  type: string;
  aggregator: ClusterAggregator;
  values: MetricSample[];
}

/** The IPC message types, prefixed so they cannot be mistaken for the application's own messages. */
const MSG = {
  /** worker → primary: "my registry answers collections from now on" */
  ready: 'obsnest:metrics:ready',
  /** worker → primary: "I am stopping; these are my final values" */
  leaving: 'obsnest:metrics:leaving',
  /** worker → primary: "a scraper asked me; aggregate for it" */
  scrape: 'obsnest:metrics:scrape',
  /** primary → worker: "send your values" */
  collect: 'obsnest:metrics:collect',
  /** worker → primary: the answer to `collect` */
  snapshot: 'obsnest:metrics:snapshot',
  /** primary → worker: the answer to `scrape` */
  result: 'obsnest:metrics:result',
} as const;

interface Message {
  type: string;
  id?: number;
  metrics?: MetricFamilyJson[];
  error?: string;
}

const isMessage = (value: unknown): value is Message =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Message).type === 'string' &&
  (value as Message).type.startsWith('obsnest:metrics:');

/**
 * The IPC channel's default serialization is JSON, which turns Infinity and NaN into null. Values are
 * sent as numbers when finite and as their exposition spelling otherwise.
 */
function encode(metrics: MetricFamilyJson[]): MetricFamilyJson[] {
  return metrics.map((m) => ({
    ...m,
    values: m.values.map((v) => (Number.isFinite(v.value) ? v : { ...v, value: String(v.value) as unknown as number })),
  }));
}

function decode(metrics: MetricFamilyJson[]): MetricFamilyJson[] {
  return metrics.map((m) => ({ ...m, values: m.values.map((v) => (typeof v.value === 'number' ? v : { ...v, value: Number(v.value) })) }));
}

/** prom-client's `getMetricsAsJSON()` without exemplars: they belong to one worker and are not aggregated. */
async function snapshotOf(registries: readonly Registry[]): Promise<MetricFamilyJson[]> {
  const all = (await Promise.all(registries.map((r) => r.getMetricsAsJSON()))).flat() as unknown as MetricFamilyJson[];
  return all.map((m) => ({
    name: m.name,
    help: m.help,
    type: String(m.type),
    aggregator: m.aggregator,
    values: m.values.map(({ value, labels, metricName }) => (metricName === undefined ? { value, labels } : { value, labels, metricName })),
  }));
}

const sampleKey = (family: string, s: MetricSample) =>
  `${family}\u0000${s.metricName ?? ''}\u0000${Object.entries(s.labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('\u0000')}`;

/**
 * Sums snapshots of several registries the way prom-client's `AggregatorRegistry` does: metrics by
 * name, samples by name and labels, each metric with its own `aggregator` (`omit` drops it).
 * A NaN sample means "no reading yet" (a worker that just started has no event-loop lag): it is left
 * out where another worker has a reading, rather than turn the sum or the maximum into NaN.
 */
export async function aggregateMetrics(snapshots: readonly (readonly MetricFamilyJson[])[]): Promise<MetricFamilyJson[]> {
  const read = new Set<string>();
  for (const s of snapshots) for (const m of s) for (const v of m.values) if (!Number.isNaN(v.value)) read.add(sampleKey(m.name, v));
  const kept = snapshots.map((s) =>
    s.map((m) => ({ ...m, values: m.values.filter((v) => !Number.isNaN(v.value) || !read.has(sampleKey(m.name, v))) })),
  );
  const registry = AggregatorRegistry.aggregate(kept as unknown as Parameters<typeof AggregatorRegistry.aggregate>[0]);
  return (await registry.getMetricsAsJSON()) as unknown as MetricFamilyJson[];
}

/** Aggregated metrics in the Prometheus text format or OpenMetrics 1.0.0, formatted by prom-client. */
export async function renderMetrics(metrics: readonly MetricFamilyJson[], format: ExpositionFormat = 'text'): Promise<string> {
  const openMetrics = format === 'openmetrics';
  const registry = new Registry<RegistryContentType>();
  registry.setContentType(openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE);
  for (const metric of metrics) {
    // prom-client's OpenMetrics path names a counter family without `_total` and adds it back to
    // every sample; it takes the family name from what `get()` returns.
    const name = openMetrics && metric.type === 'counter' ? metric.name.replace(/_total$/, '') : metric.name;
    const view = { ...metric, name };
    registry.registerMetric({ ...view, get: async () => view } as unknown as Metric);
  }
  return registry.metrics();
}

const isCumulative = (m: MetricFamilyJson) => (m.type === 'counter' || m.type === 'histogram') && m.aggregator === 'sum';

/**
 * The primary's arithmetic, without IPC: live workers' snapshots plus the counters and histograms of
 * workers that are gone, never below what it served before.
 */
export class ClusterMetricsAggregator {
  private retired: MetricFamilyJson[] = [];
  private readonly served = new Map<string, number>();

  /** Keeps the counters and histograms of a worker that is gone (its final or last known values). */
  async retire(snapshot: readonly MetricFamilyJson[]): Promise<void> {
    const cumulative = snapshot.filter(isCumulative);
    if (cumulative.length === 0) return;
    this.retired = await aggregateMetrics([this.retired, cumulative]);
  }

  async aggregate(live: readonly (readonly MetricFamilyJson[])[]): Promise<MetricFamilyJson[]> {
    const merged = await aggregateMetrics([...live, this.retired]);
    for (const metric of merged) {
      if (!isCumulative(metric)) continue;
      for (const sample of metric.values) {
        const key = sampleKey(metric.name, sample);
        const before = this.served.get(key);
        // A dead worker's last counts since the previous collection are lost: hold the value rather
        // than serve a drop that Prometheus would read as a reset of the whole instance.
        if (before !== undefined && sample.value < before) sample.value = before;
        else this.served.set(key, sample.value);
      }
    }
    return merged;
  }
}

export interface ClusterMetricsPrimaryOptions {
  /** `node:cluster`, or a stand-in with its `workers` and events. Default: `node:cluster`. */
  cluster?: Cluster;
  /** Longest wait for one worker's values; past it the scrape fails (rather than serve a partial sum). Default 5000. */
  timeoutMs?: number;
}

interface Collection {
  readonly waiting: Set<number>;
  readonly snapshots: Map<number, MetricFamilyJson[]>;
  readonly settle: (error?: Error) => void;
}

/**
 * Runs in the primary: answers the workers' scrape requests with the aggregate of every worker that
 * has announced its registry (`ClusterMetricsWorker`). A worker still starting is not waited for; it
 * has counted nothing yet.
 */
export class ClusterMetricsPrimary {
  private readonly cluster: Cluster;
  private readonly timeoutMs: number;
  private readonly aggregator = new ClusterMetricsAggregator();
  /** Workers whose registry answers collections, by `worker.id`. */
  private readonly members = new Map<number, Worker>();
  private readonly lastSnapshot = new Map<number, MetricFamilyJson[]>();
  private readonly collections = new Map<number, Collection>();
  private nextId = 0;
  /** Retirements in progress: an aggregation waits for them, so a worker is never counted twice or not at all. */
  private pending: Promise<void> = Promise.resolve();

  constructor(options: ClusterMetricsPrimaryOptions = {}) {
    this.cluster = options.cluster ?? nodeCluster;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.cluster.on('message', this.onMessage);
    this.cluster.on('exit', this.onExit);
  }

  /** Workers whose values are in the aggregate. */
  get workerCount(): number {
    return this.members.size;
  }

  /** Every worker's metrics, aggregated (what a worker's `/metrics` serves). */
  async collect(): Promise<MetricFamilyJson[]> {
    const id = this.nextId++;
    const targets = [...this.members].filter(([, worker]) => worker.isConnected());
    const snapshots = new Map<number, MetricFamilyJson[]>();
    if (targets.length > 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          const late = [...(this.collections.get(id)?.waiting ?? [])].map((w) => `${w} (pid ${this.members.get(w)?.process.pid})`);
          settle(new Error(`cluster worker ${late.join(', ')} did not send its metrics within ${this.timeoutMs} ms`));
        }, this.timeoutMs);
        const settle = (error?: Error) => {
          clearTimeout(timer);
          this.collections.delete(id);
          if (error) reject(error);
          else resolve();
        };
        this.collections.set(id, { waiting: new Set(targets.map(([w]) => w)), snapshots, settle });
        for (const [, worker] of targets) worker.send({ type: MSG.collect, id });
      });
    }
    await this.pending;
    for (const [worker, snapshot] of snapshots) this.lastSnapshot.set(worker, snapshot);
    // Only workers still members now: one that left meanwhile is in the retired values already.
    return this.aggregator.aggregate([...snapshots].filter(([w]) => this.members.has(w)).map(([, s]) => s));
  }

  /** Stops answering; the workers' scrapes fail from then on. */
  close(): void {
    this.cluster.off('message', this.onMessage);
    this.cluster.off('exit', this.onExit);
    for (const collection of this.collections.values()) collection.settle(new Error('the cluster metrics primary is closed'));
  }

  private readonly onMessage = (worker: Worker, message: unknown): void => {
    if (!isMessage(message)) return;
    switch (message.type) {
      case MSG.ready:
        this.members.set(worker.id, worker);
        break;
      case MSG.leaving:
        this.depart(worker.id, message.metrics ? decode(message.metrics) : this.lastSnapshot.get(worker.id));
        break;
      case MSG.snapshot: {
        const collection = message.id === undefined ? undefined : this.collections.get(message.id);
        if (!collection?.waiting.delete(worker.id)) return;
        if (message.error !== undefined) {
          collection.settle(
            new Error(`cluster worker ${worker.id} (pid ${worker.process.pid}) could not collect its metrics: ${message.error}`),
          );
          return;
        }
        collection.snapshots.set(worker.id, decode(message.metrics ?? []));
        if (collection.waiting.size === 0) collection.settle();
        break;
      }
      case MSG.scrape:
        this.collect().then(
          (metrics) => send(worker, { type: MSG.result, id: message.id, metrics: encode(metrics) }),
          (error: unknown) =>
            send(worker, { type: MSG.result, id: message.id, error: error instanceof Error ? error.message : String(error) }),
        );
        break;
    }
  };

  private readonly onExit = (worker: Worker): void => {
    if (this.members.has(worker.id)) this.depart(worker.id, this.lastSnapshot.get(worker.id));
  };

  private depart(workerId: number, snapshot: MetricFamilyJson[] | undefined): void {
    if (!this.members.delete(workerId)) return;
    this.lastSnapshot.delete(workerId);
    if (snapshot) this.pending = this.pending.then(() => this.aggregator.retire(snapshot));
    for (const collection of this.collections.values()) {
      if (collection.waiting.delete(workerId) && collection.waiting.size === 0) collection.settle();
    }
  }
}

function send(worker: Worker, message: Message): void {
  // A worker that exited meanwhile has no one left to answer.
  if (worker.isConnected()) worker.send(message);
}

/** The part of `process` a worker talks to the primary through. */
export interface WorkerChannel {
  send?: (message: unknown) => boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/**
 * Runs in each worker: answers the primary's collections from the given registries, and fetches the
 * aggregate when a scraper asks this worker.
 */
export class ClusterMetricsWorker {
  private readonly pending = new Map<number, { resolve: (m: MetricFamilyJson[]) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private left = false;

  constructor(
    private readonly registries: readonly Registry[],
    private readonly channel: WorkerChannel = process,
    private readonly timeoutMs = 10_000,
  ) {
    if (!channel.send) throw new Error('ClusterMetricsWorker runs in a cluster worker (process.send is undefined here)');
    channel.on('message', this.onMessage);
    channel.send({ type: MSG.ready });
  }

  /** Every worker's metrics, aggregated by the primary. Rejects when the primary cannot answer. */
  aggregated(): Promise<MetricFamilyJson[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the cluster primary did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.channel.send?.({ type: MSG.scrape, id });
    });
  }

  /** The aggregate in the given format. */
  async render(format: ExpositionFormat = 'text'): Promise<string> {
    return renderMetrics(await this.aggregated(), format);
  }

  /**
   * Hands this worker's final values to the primary, which keeps its counters and histograms in the
   * aggregate and stops asking it. Call when the worker stops counting (after its servers closed).
   */
  async leave(): Promise<void> {
    if (this.left) return;
    this.left = true;
    this.channel.off('message', this.onMessage);
    const metrics = await snapshotOf(this.registries).catch(() => undefined);
    this.channel.send?.({ type: MSG.leaving, metrics: metrics && encode(metrics) });
    for (const { reject } of this.pending.values()) reject(new Error('this worker is stopping'));
    this.pending.clear();
  }

  private readonly onMessage = (message: unknown): void => {
    if (!isMessage(message)) return;
    if (message.type === MSG.collect) {
      snapshotOf(this.registries).then(
        (metrics) => this.channel.send?.({ type: MSG.snapshot, id: message.id, metrics: encode(metrics) }),
        (error: unknown) =>
          this.channel.send?.({ type: MSG.snapshot, id: message.id, error: error instanceof Error ? error.message : String(error) }),
      );
    } else if (message.type === MSG.result && message.id !== undefined) {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.error !== undefined) waiter.reject(new Error(message.error));
      else waiter.resolve(decode(message.metrics ?? []));
    }
  };
}
