import { createRequire } from 'node:module';
import { GCProfiler } from 'node:v8';
import { collectDefaultMetrics, Histogram, type Registry } from 'prom-client';

/**
 * prom-client's default Node.js metrics, with `nodejs_gc_duration_seconds` read from `v8.GCProfiler`
 * when Prometheus scrapes instead of a `PerformanceObserver` on `gc` entries.
 *
 * Why: prom-client's GC collector makes Node create a performance entry, schedule an immediate and
 * run the observer's JavaScript after every garbage collection, tens of times a second under load;
 * in the consumer benchmark that measured about 1 % of a bare Fastify app's CPU per request
 * (bench/BENCHMARKS.md). `GCProfiler` records the same pauses in C++ and hands them over in one call.
 * The other collectors are prom-client's own (`lib/metrics/<name>`, the list `collectDefaultMetrics`
 * runs), loaded by name; if that layout ever changes, `collectDefaultMetrics` runs as before.
 */

type Collector = (registry: Registry, config: { eventLoopMonitoringPrecision: number }) => void;

/** prom-client's default for the event loop delay histogram's sampling period, in ms. */
const EVENT_LOOP_PRECISION_MS = 10;
/** prom-client's name, help, label and buckets for the GC histogram: dashboards and queries keep working. */
const GC_METRIC = 'nodejs_gc_duration_seconds';
const GC_HELP = 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.';
const GC_BUCKETS = [0.001, 0.01, 0.1, 1, 2, 5];
/** `GCProfiler`'s `gcType` → prom-client's `kind` label. */
const GC_KINDS: Readonly<Record<string, string>> = {
  Scavenge: 'minor',
  MinorMarkSweep: 'minor',
  MinorMarkCompact: 'minor',
  MarkSweepCompact: 'major',
  IncrementalMarking: 'incremental',
  ProcessWeakCallbacks: 'weakcb',
};
/**
 * The profiler keeps some 3 KB per collection until it is read; read at least this often (ms), so an
 * application nobody scrapes holds a few MB at most.
 */
const DRAIN_INTERVAL_MS = 60_000;

interface GcStatistics {
  readonly gcType: string;
  /** Microseconds. */
  readonly cost: number;
}

const requireFromHere = createRequire(import.meta.url);

/** prom-client's collectors but the GC one, or undefined when they cannot be loaded by their names. */
function promClientCollectors(): Collector[] | undefined {
  const names = (collectDefaultMetrics as unknown as { metricsList?: readonly string[] }).metricsList;
  if (!Array.isArray(names) || !names.includes('gc')) return undefined;
  try {
    return names.filter((name) => name !== 'gc').map((name) => requireFromHere(`prom-client/lib/metrics/${name}`) as Collector);
  } catch {
    return undefined;
  }
}

/** The GC histogram, filled from a `GCProfiler` at every scrape and every DRAIN_INTERVAL_MS. */
class GcDurations {
  private profiler = new GCProfiler();
  private stopped = false;
  private readonly drainTimer: NodeJS.Timeout;
  readonly histogram: Histogram<'kind'>;

  constructor(registry: Registry) {
    const drain = () => this.drain();
    this.histogram = new Histogram({
      name: GC_METRIC,
      help: GC_HELP,
      labelNames: ['kind'],
      buckets: GC_BUCKETS,
      registers: [registry],
      collect: drain,
    });
    this.profiler.start();
    this.drainTimer = setInterval(drain, DRAIN_INTERVAL_MS).unref();
  }

  drain(): void {
    if (this.stopped) return;
    const result = this.profiler.stop() as { statistics?: readonly GcStatistics[] } | undefined;
    this.profiler = new GCProfiler();
    this.profiler.start();
    for (const gc of result?.statistics ?? []) {
      const kind = GC_KINDS[gc.gcType];
      if (kind !== undefined) this.histogram.observe({ kind }, gc.cost / 1e6);
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.drainTimer);
    this.profiler.stop();
  }
}

/** What `collectRuntimeMetrics` started; `stop()` ends the GC profiling (the process keeps the rest, as with prom-client). */
export interface RuntimeMetrics {
  /** True when the GC histogram comes from `GCProfiler`, false when prom-client's own collector runs. */
  readonly gcFromProfiler: boolean;
  stop(): void;
}

/** Registers the Node.js runtime metrics (prom-client's default set) in `registry`. */
export function collectRuntimeMetrics(registry: Registry): RuntimeMetrics {
  const collectors = promClientCollectors();
  if (collectors === undefined || typeof GCProfiler !== 'function') {
    collectDefaultMetrics({ register: registry });
    return { gcFromProfiler: false, stop: () => undefined };
  }
  for (const collect of collectors) collect(registry, { eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
  const gc = new GcDurations(registry);
  return { gcFromProfiler: true, stop: () => gc.stop() };
}
