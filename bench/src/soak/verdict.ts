/** One printed sample, and the "levels off" judgement over them. */
import { linearFit } from '../lib/stats.js';

/** Below this many minutes a run checks the harness and the failures; memory is printed, not judged. */
export const SHORT_RUN_MINUTES = 5;

export interface Sample {
  /** Seconds since the load started, at the end of the period. */
  readonly t: number;
  /** Means over the period's scrapes (one a second), so a GC sawtooth does not decide alone. */
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  /** Lowest heap used of the period: close to the live set right after a collection. */
  readonly heapMinMiB: number;
  /** prom-client's per-scrape p99 of event-loop delay: mean and max over the period. */
  readonly lagP99Ms: number;
  readonly lagP99MaxMs: number;
  /** Samples in the exposition at the period's last scrape, all and the application's only. */
  readonly series: number;
  readonly appSeries: number;
  /** Application series seen for the first time in this period. */
  readonly newAppSeries: readonly string[];
  readonly exposureKiB: number;
  /** Completed HTTP requests per second over the period (scrapes not counted). */
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU of the API process over the period, in percent of one core. */
  readonly apiCpuPct: number;
  /**
   * The same CPU time divided by the requests answered in the period (scrapes and Socket.IO work
   * included in the time, not in the count). Unlike latency, it barely moves when another process
   * takes the core, so a rise means each request costs more.
   */
  readonly apiCpuMsPerRequest: number;
  /** 1-minute load average of the machine: other work on the two cores shows here. */
  readonly load1: number;
  /** Running totals. */
  readonly requests: number;
  readonly failures: number;
  readonly websocketConnections: number;
  readonly wsEvents: number;
  /** Socket.IO connections made so far. */
  readonly wsConnects: number;
  /** Scrapes in the period (one a second when all went well). */
  readonly scrapes: number;
}

export interface Thresholds {
  readonly maxRssGrowth: number;
  readonly maxHeapGrowth: number;
  /** For the whole exposition, runtime families included; the application's series must not grow at all. */
  readonly maxSeriesGrowth: number;
  readonly maxCpuPerRequestGrowth: number;
  /**
   * Whether RSS and heap decide the verdict. A run of a few minutes ends before V8 has settled
   * its heap size (the first minutes grow it by design), so there they are printed, not judged.
   */
  readonly judgeMemory: boolean;
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** Why it is printed but does not decide the verdict; undefined when it decides. */
  readonly advisory?: string;
}

export interface Verdict {
  readonly levelled: boolean;
  readonly clean: boolean;
  readonly ok: boolean;
  readonly checks: readonly Check[];
  readonly thirds: { readonly middle: readonly [number, number]; readonly last: readonly [number, number] };
  readonly growth: {
    readonly rss: number;
    readonly heap: number;
    readonly series: number;
    readonly lagP99: number;
    readonly cpuPerRequest: number;
  };
  /** Least-squares slopes over the middle and last thirds, per minute: for the record, not judged. */
  readonly slopesPerMinute: { readonly rssMiB: number; readonly heapUsedMiB: number };
}

/** Mean of the finite values: a period without a successful scrape has no figures, not zero ones. */
const mean = (values: readonly number[]): number => {
  const finite = values.filter(Number.isFinite);
  return finite.reduce((a, b) => a + b, 0) / finite.length;
};
const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;

export interface EndState {
  /** HTTP requests and scrapes that got an unintended status (5xx included) or no answer. */
  readonly failures: number;
  readonly socketConnectErrors: number;
  readonly socketConnects: number;
  /** Connections the churn should have made: clients plus replacements over the run. */
  readonly socketConnectsPlanned: number;
  readonly unexpectedDisconnects: number;
  /** websocket_connections once every client has left; undefined when the final scrape failed. */
  readonly websocketConnectionsAfter: number | undefined;
  readonly apiRunning: boolean;
  readonly apiExit: { code: number | null; signal: string | null } | undefined;
}

export function judge(samples: readonly Sample[], thresholds: Thresholds, end: EndState): Verdict {
  const n = samples.length;
  const a = Math.floor(n / 3);
  const b = Math.floor((2 * n) / 3);
  const middle = samples.slice(a, b);
  const last = samples.slice(b);
  const checks: Check[] = [];
  const growthOf = (pick: (s: Sample) => number) =>
    middle.length && last.length ? mean(last.map(pick)) / mean(middle.map(pick)) - 1 : Number.NaN;
  const growth = {
    rss: growthOf((s) => s.rssMiB),
    heap: growthOf((s) => s.heapUsedMiB),
    series: growthOf((s) => s.series),
    lagP99: growthOf((s) => s.lagP99Ms),
    cpuPerRequest: growthOf((s) => s.apiCpuMsPerRequest),
  };
  const enough = n >= 3 && middle.length > 0 && last.length > 0;
  checks.push({ name: 'enough samples', ok: enough, detail: `${n} samples (≥ 3 needed, one third each)` });
  const fmt = (pick: (s: Sample) => number) =>
    `${mean(middle.map(pick)).toFixed(1)} → ${mean(last.map(pick)).toFixed(1)} MiB (middle → last third mean)`;
  checks.push({
    name: 'RSS levels off',
    ok: enough && growth.rss < thresholds.maxRssGrowth,
    advisory: thresholds.judgeMemory ? undefined : `run shorter than ${SHORT_RUN_MINUTES} min`,
    detail: `${pct(growth.rss)}, ${fmt((s) => s.rssMiB)}; limit < ${pct(thresholds.maxRssGrowth)}`,
  });
  const floor = (part: readonly Sample[]) => {
    const values = part.map((s) => s.heapMinMiB).filter(Number.isFinite);
    return values.length ? Math.min(...values) : Number.NaN;
  };
  checks.push({
    name: 'heap used levels off',
    ok: enough && growth.heap < thresholds.maxHeapGrowth,
    advisory: thresholds.judgeMemory ? undefined : `run shorter than ${SHORT_RUN_MINUTES} min`,
    detail: `${pct(growth.heap)}, ${fmt((s) => s.heapUsedMiB)}, lowest ${floor(middle).toFixed(1)} → ${floor(last).toFixed(1)} MiB; limit < ${pct(thresholds.maxHeapGrowth)}`,
  });
  const lateSeries = [...new Set(last.flatMap((s) => s.newAppSeries))];
  checks.push({
    name: 'application series flat after warm-up',
    ok: enough && lateSeries.length === 0,
    detail:
      lateSeries.length === 0
        ? `no new series in the last third (${last.at(-1)?.appSeries ?? '?'} application series)`
        : `${lateSeries.length} new in the last third: ${lateSeries.slice(0, 5).join(', ')}${lateSeries.length > 5 ? ', …' : ''}`,
  });
  checks.push({
    name: 'all series level off',
    ok: enough && growth.series < thresholds.maxSeriesGrowth,
    detail: `${pct(growth.series)} (runtime families such as nodejs_active_resources{type} follow live handle types); limit < ${pct(thresholds.maxSeriesGrowth)}`,
  });
  checks.push({
    name: 'CPU per request levels off',
    ok: enough && growth.cpuPerRequest < thresholds.maxCpuPerRequestGrowth,
    // Reported rather than judged: what a request costs may grow with the data (a bigger table,
    // a deeper index) without anything leaking; memory and series are the leak signals.
    advisory: 'a cost, not a leak',
    detail: `${pct(growth.cpuPerRequest)}, ${mean(middle.map((s) => s.apiCpuMsPerRequest)).toFixed(2)} → ${mean(last.map((s) => s.apiCpuMsPerRequest)).toFixed(2)} ms (middle → last third mean); limit < ${pct(thresholds.maxCpuPerRequestGrowth)}`,
  });
  const levelled = checks.every((c) => c.ok || c.advisory !== undefined);

  const cleanChecks: Check[] = [
    { name: 'no failed request', ok: end.failures === 0, detail: `${end.failures} (5xx, unintended status, connection error or timeout)` },
    {
      name: 'every Socket.IO client connected and stayed',
      ok: end.socketConnectErrors === 0 && end.unexpectedDisconnects === 0,
      detail: `${end.socketConnectErrors} connect errors, ${end.unexpectedDisconnects} disconnects not asked for`,
    },
    {
      // Guards the harness itself: without churn the soak would not test connection clean-up.
      name: 'Socket.IO clients churned',
      ok: end.socketConnects >= end.socketConnectsPlanned / 2,
      detail: `${end.socketConnects} connections made, ${Math.round(end.socketConnectsPlanned)} planned`,
    },
    {
      name: 'websocket_connections back to 0',
      ok: end.websocketConnectionsAfter === 0,
      detail: `${end.websocketConnectionsAfter ?? 'no final scrape'} after every client left`,
    },
    {
      name: 'API alive to the end, clean exit on SIGTERM',
      ok: end.apiRunning && end.apiExit?.code === 0,
      detail: end.apiExit ? `exit code ${end.apiExit.code}${end.apiExit.signal ? `, signal ${end.apiExit.signal}` : ''}` : 'not stopped',
    },
  ];
  checks.push(...cleanChecks);
  const clean = cleanChecks.every((c) => c.ok);

  const settled = samples.slice(a);
  const slope = (pick: (s: Sample) => number) => {
    const points = settled.filter((s) => Number.isFinite(pick(s)));
    return points.length >= 2
      ? linearFit(
          points.map((s) => s.t / 60),
          points.map(pick),
        ).slope
      : Number.NaN;
  };
  return {
    levelled,
    clean,
    ok: levelled && clean,
    checks,
    thirds: { middle: [middle[0]?.t ?? 0, middle.at(-1)?.t ?? 0], last: [last[0]?.t ?? 0, last.at(-1)?.t ?? 0] },
    growth,
    slopesPerMinute: { rssMiB: slope((s) => s.rssMiB), heapUsedMiB: slope((s) => s.heapUsedMiB) },
  };
}
