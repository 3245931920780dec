/**
 * Interleaved measurement: every round runs every target once, in a fresh shuffled order, so
 * whatever else the machine does hits all of them alike; figures are medians over rounds and
 * ratios are taken round by round against the baseline measured in the same round.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServerProcess } from './proc.js';
import { flippedOrder, median, shuffled, spread } from './stats.js';
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

/** Medians, spreads and paired ratios of every target's rounds. */
function summarize(
  targets: readonly Pick<Target, 'id' | 'baseline' | 'reference'>[],
  samples: ReadonlyMap<string, RoundSample[]>,
  warmups: ReadonlyMap<string, { requests: number; errors: number }>,
): TargetSummary[] {
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
  return summarize(targets, samples, warmups);
}

/** An arm measured with fresh processes: `start` gives a new server for every round. */
export interface FreshArm {
  readonly id: string;
  /** Id of the arm this one is compared with ('' for none). */
  readonly baseline: string;
  /** Path loaded on the server, e.g. `/users/<id>`. */
  readonly path: string;
  start(round: number): Promise<ServerProcess>;
}

export interface SlicedOptions {
  rounds: number;
  /** Seconds of load per arm per round, given in one-second slices. */
  seconds: number;
  warmupSeconds: number;
  connections: number;
  loadCpu: string;
  log(message: string): void;
  /** Runs with the round's servers before the warm-up of round 1 (idle) and after the last round, before they stop. */
  inspect?(servers: ReadonlyMap<string, ServerProcess>, phase: 'first' | 'last'): Promise<void>;
  /** Runs every round once the arms are warm, before the measured slices (e.g. to pin what the warm-up started). */
  afterWarmup?(round: number): Promise<void>;
  stop(server: ServerProcess): Promise<void>;
}

interface SliceTally {
  cpu: number;
  requests: number;
  seconds: number;
  errors: number;
  p50: number[];
  p99: number[];
  max: number;
  rss: number;
  heap: number;
}

/**
 * Rounds with a fresh process per arm, the arms taking turns in one-second slices with the order
 * flipped every slice: the method of the consumer section (see there for what it measured). Two
 * processes of the same app differ by several per cent for their whole life, and the host's speed
 * drifts within a minute; new processes per round put the first in each round's noise, and fine
 * slices make the arms see the same drift.
 */
export async function slicedRounds(arms: readonly FreshArm[], options: SlicedOptions): Promise<TargetSummary[]> {
  const samples = new Map<string, RoundSample[]>(arms.map((a) => [a.id, []]));
  const warmups = new Map<string, { requests: number; errors: number }>();
  const slices = Math.max(1, Math.round(options.seconds));
  for (let round = 1; round <= options.rounds; round++) {
    const servers = new Map<string, ServerProcess>();
    try {
      for (const arm of flippedOrder(arms, round)) servers.set(arm.id, await arm.start(round));
      const url = (arm: FreshArm) => `${servers.get(arm.id)?.url}${arm.path}`;
      if (round === 1) await options.inspect?.(servers, 'first');
      for (const arm of arms) {
        const w = await wrk({ url: url(arm), seconds: options.warmupSeconds || 1, connections: options.connections, cpu: options.loadCpu });
        if (w.requests === 0) throw new Error(`${arm.id}: no response during warm-up of round ${round}`);
        if (round === 1) warmups.set(arm.id, { requests: w.requests, errors: errorsOf(w) });
      }
      await options.afterWarmup?.(round);
      const tallies = new Map<string, SliceTally>(
        arms.map((a) => [a.id, { cpu: 0, requests: 0, seconds: 0, errors: 0, p50: [], p99: [], max: 0, rss: 0, heap: Number.NaN }]),
      );
      for (let slice = 0; slice < slices; slice++) {
        for (const arm of flippedOrder(arms, round + slice)) {
          const server = servers.get(arm.id) as ServerProcess;
          const t = tallies.get(arm.id) as SliceTally;
          const before = server.cpuSeconds();
          const r = await wrk({ url: url(arm), seconds: options.seconds / slices, connections: options.connections, cpu: options.loadCpu });
          t.cpu += server.cpuSeconds() - before;
          t.requests += r.requests;
          t.seconds += r.durationUs / 1e6;
          t.errors += errorsOf(r);
          t.p50.push(r.latencyUs.p50 / 1000);
          t.p99.push(r.latencyUs.p99 / 1000);
          t.max = Math.max(t.max, r.latencyUs.max / 1000);
          if (slice === slices >> 1) {
            t.rss = server.rssBytes();
            t.heap = (await server.call<NodeJS.MemoryUsage>('memory', undefined, 5_000).catch(() => undefined))?.heapUsed ?? Number.NaN;
          }
        }
      }
      for (const arm of arms) {
        const t = tallies.get(arm.id) as SliceTally;
        if (t.requests === 0) throw new Error(`${arm.id}: no requests in round ${round}`);
        samples.get(arm.id)?.push({
          round,
          requests: t.requests,
          seconds: t.seconds,
          rps: t.requests / t.seconds,
          p50Ms: median(t.p50),
          p99Ms: median(t.p99),
          maxMs: t.max,
          cpuUsPerRequest: (t.cpu / t.requests) * 1e6,
          cpuShare: t.cpu / t.seconds,
          rssBytes: t.rss,
          heapUsedBytes: t.heap,
          errors: t.errors,
        });
      }
      options.log(
        `  round ${round}/${options.rounds}: ${arms.map((a) => `${a.id} ${samples.get(a.id)?.at(-1)?.cpuUsPerRequest.toFixed(1)}µs/req`).join(' | ')}`,
      );
      if (round === options.rounds) await options.inspect?.(servers, 'last');
    } finally {
      for (const server of servers.values()) await options.stop(server);
    }
  }
  return summarize(
    arms.map((a) => ({ id: a.id, baseline: a.baseline })),
    samples,
    warmups,
  );
}
