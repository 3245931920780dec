/**
 * Interleaved measurement: every round runs every target once, in a fresh shuffled order, so
 * whatever else the machine does hits all of them alike; figures are medians over rounds and
 * ratios are taken round by round against the baseline measured in the same round.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServerProcess } from './proc.js';
import { median, shuffled, spread } from './stats.js';
import { type WrkResult, wrk } from './wrk.js';
import type { RoundSample, Medians, Ratios, TargetSummary } from '../results.js';
export type { RoundSample, Medians, Ratios, TargetSummary };

export interface Target {
  readonly id: string;
  readonly server: ServerProcess;
  /** The URL loaded (on the server). */
  readonly url: string;
  /** Id of the target this one is compared with ('' for none). */
  readonly baseline: string;
  /** A second reference (ours against the bare app, the same reference as the peers). */
  readonly reference?: string;
}

export interface RoundOptions {
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  connections: number;
  loadCpu: string;
  seed: number;
  log(message: string): void;
}

const errorsOf = (r: WrkResult) => r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout + r.errors.status;

async function measure(target: Target, options: RoundOptions, round: number): Promise<RoundSample> {
  const cpuBefore = target.server.cpuSeconds();
  const started = performance.now();
  // Memory under load, read once half-way through the round.
  const memory = sleep((options.seconds * 1000) / 2).then(async () => {
    const rss = target.server.rssBytes();
    const usage = await target.server.call<NodeJS.MemoryUsage>('memory').catch(() => undefined);
    return { rss, heapUsed: usage?.heapUsed ?? Number.NaN };
  });
  const result = await wrk({ url: target.url, seconds: options.seconds, connections: options.connections, cpu: options.loadCpu });
  const elapsed = (performance.now() - started) / 1000;
  const cpu = target.server.cpuSeconds() - cpuBefore;
  const mem = await memory;
  const seconds = result.durationUs / 1e6;
  return {
    round,
    requests: result.requests,
    seconds,
    rps: result.requests / seconds,
    p50Ms: result.latencyUs.p50 / 1000,
    p99Ms: result.latencyUs.p99 / 1000,
    maxMs: result.latencyUs.max / 1000,
    cpuUsPerRequest: (cpu / result.requests) * 1e6,
    cpuShare: cpu / elapsed,
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    errors: errorsOf(result),
  };
}

function ratios(samples: RoundSample[], reference: RoundSample[]): Ratios {
  const paired = (f: (s: RoundSample) => number) =>
    median(samples.map((s) => f(s) / f(reference.find((r) => r.round === s.round) ?? s)).filter((v) => Number.isFinite(v)));
  return {
    cpuPerRequest: paired((s) => s.cpuUsPerRequest),
    rps: paired((s) => s.rps),
    p50: paired((s) => s.p50Ms),
    p99: paired((s) => s.p99Ms),
  };
}

export async function interleave(targets: readonly Target[], options: RoundOptions): Promise<TargetSummary[]> {
  const warmups = new Map<string, { requests: number; errors: number }>();
  for (const target of options.warmupSeconds > 0 ? targets : []) {
    const w = await wrk({ url: target.url, seconds: options.warmupSeconds, connections: options.connections, cpu: options.loadCpu });
    warmups.set(target.id, { requests: w.requests, errors: errorsOf(w) });
    if (w.requests === 0) throw new Error(`${target.id}: no response during warm-up`);
  }
  const samples = new Map<string, RoundSample[]>(targets.map((t) => [t.id, []]));
  for (let round = 1; round <= options.rounds; round++) {
    const order = shuffled(targets, options.seed + round);
    for (const target of order) {
      const sample = await measure(target, options, round);
      samples.get(target.id)?.push(sample);
    }
    const line = order
      .map((t) => {
        const s = samples.get(t.id)?.at(-1);
        return s ? `${t.id} ${s.cpuUsPerRequest.toFixed(1)}µs/req ${Math.round(s.rps)}/s` : t.id;
      })
      .join(' | ');
    options.log(`  round ${round}/${options.rounds}: ${line}`);
  }
  const summaries: TargetSummary[] = targets.map((t) => {
    const s = samples.get(t.id) ?? [];
    return {
      id: t.id,
      baseline: t.baseline,
      reference: t.reference,
      samples: s,
      median: {
        rps: median(s.map((x) => x.rps)),
        p50Ms: median(s.map((x) => x.p50Ms)),
        p99Ms: median(s.map((x) => x.p99Ms)),
        cpuUsPerRequest: median(s.map((x) => x.cpuUsPerRequest)),
        rssBytes: median(s.map((x) => x.rssBytes)),
        heapUsedBytes: median(s.map((x) => x.heapUsedBytes)),
      },
      spread: { cpuPerRequest: spread(s.map((x) => x.cpuUsPerRequest)), rps: spread(s.map((x) => x.rps)) },
      warmup: warmups.get(t.id),
    };
  });
  for (const summary of summaries) {
    const base = summaries.find((x) => x.id === summary.baseline);
    if (base) summary.vsBaseline = ratios(summary.samples, base.samples);
    const ref = summaries.find((x) => x.id === summary.reference);
    if (ref) summary.vsReference = ratios(summary.samples, ref.samples);
  }
  return summaries;
}
