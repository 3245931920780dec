/**
 * Interleaved measurement: every round runs every target once, in a fresh shuffled order, so
 * whatever else the machine does hits all of them alike; figures are medians over rounds and
 * ratios are taken round by round against the baseline measured in the same round.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServerProcess } from './proc.js';
import { AA_TARGET, aaSpread, flippedOrder, median, pairedRatios, rotationSchedule, shuffled, spread } from './stats.js';
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

export interface RotatedOptions {
  /** Rounds to run at least; each starts every arm afresh. */
  rounds: number;
  /**
   * The A/A pair (the baseline started twice): from `rounds` on, rounds are added, up to
   * MORE_ROUNDS_FACTOR times as many, while the CPU/request spread of `arm` against `baseline` is
   * AA_TARGET or more. Without it, exactly `rounds` rounds run.
   */
  aa?: { arm: string; baseline: string };
  /** Seconds each arm runs per round, in quanta. */
  seconds: number;
  /** Length of one quantum, in ms (default QUANTUM_MS). */
  quantumMs?: number;
  warmupSeconds: number;
  connections: number;
  loadCpu: string;
  seed: number;
  log(message: string): void;
  /** Runs with the round's servers before the warm-up of round 1 (idle) and after the last round, before they stop. */
  inspect?(servers: ReadonlyMap<string, ServerProcess>, phase: 'first' | 'last'): Promise<void>;
  /** Runs every round once the arms are warm, before they are measured (e.g. to pin what the warm-up started). */
  afterWarmup?(round: number): Promise<void>;
  stop(server: ServerProcess): Promise<void>;
}

/** How many times `rounds` a rotation may run while its A/A spread is above AA_TARGET. */
export const MORE_ROUNDS_FACTOR = 3;

/** Long enough that a server spends little of it refilling its caches after the others ran, short against the host's drift. */
export const QUANTUM_MS = 100;

interface Tally {
  cpuSeconds: number;
  activeSeconds: number;
}

interface Load {
  result: Promise<WrkResult>;
  abort: AbortController;
}

/**
 * One rotation: every arm paused with its own wrk connected, then the arms running one at a time in
 * quanta, the order shuffled every cycle, until each has run `seconds`; every arm runs again at the end.
 * `loads` collects the load generators so that the caller can stop them if this throws.
 */
async function rotation(
  arms: readonly FreshArm[],
  serverOf: (arm: FreshArm) => ServerProcess,
  loads: Load[],
  options: Pick<RotatedOptions, 'seconds' | 'quantumMs' | 'connections' | 'loadCpu' | 'seed'>,
): Promise<{ results: WrkResult[]; tallies: Tally[] }> {
  const quantumMs = options.quantumMs ?? QUANTUM_MS;
  const quanta = Math.max(1, Math.round((options.seconds * 1000) / quantumMs));
  for (const arm of arms) serverOf(arm).pause();
  // Each wrk gets its connections open and its first requests queued against its paused server.
  const rotationSeconds = (quanta * arms.length * quantumMs) / 1000;
  const mine = arms.map((arm) => {
    const abort = new AbortController();
    const result = wrk({
      url: `${serverOf(arm).url}${arm.path}`,
      seconds: rotationSeconds + 30,
      timeoutSeconds: rotationSeconds + 30,
      connections: options.connections,
      cpu: options.loadCpu,
      signal: abort.signal,
    });
    return { result, abort };
  });
  loads.push(...mine);
  await sleep(300);
  const cpuBefore = arms.map((arm) => serverOf(arm).cpuNanoseconds());
  const tallies: Tally[] = arms.map(() => ({ cpuSeconds: 0, activeSeconds: 0 }));
  for (const index of rotationSchedule(arms.length, quanta, options.seed)) {
    const server = serverOf(arms[index]);
    const resumed = performance.now();
    server.resume();
    await sleep(quantumMs);
    server.pause();
    tallies[index].activeSeconds += (performance.now() - resumed) / 1000;
  }
  // The last responses reach wrk while every server is paused; then wrk stops and reports.
  await sleep(200);
  arms.forEach((arm, i) => {
    tallies[i].cpuSeconds = (serverOf(arm).cpuNanoseconds() - cpuBefore[i]) / 1e9;
  });
  for (const load of mine) load.abort.abort();
  const results = await Promise.all(mine.map((l) => l.result));
  // Running again, for what comes next: the users section's pinning, the probes of `inspect`, `stop`.
  for (const arm of arms) serverOf(arm).resume();
  return { results, tallies };
}

/**
 * Rounds with a fresh process per arm. Every arm is paused (SIGSTOP) with a load generator of its
 * own connected, and the arms then run one at a time in quanta of ~100 ms (SIGCONT … SIGSTOP), the
 * order shuffled every cycle, until each has run `warmupSeconds` (the warm-up), then again, with new
 * load generators, until each has run `seconds` (the measure). A paused server uses no CPU and answers nothing, so an arm's CPU per request is the
 * CPU its process used over the whole rotation divided by the responses its wrk received.
 *
 * Why: the host's speed drifts by 10–30 % within seconds (a VM sharing its cores), and one-second
 * slices per arm still let arms see different speeds; quanta this short make every arm see the same
 * drift. Fresh processes every round put the several per cent by which two processes of the same app
 * differ for their whole life into each round's noise, which the median over rounds and the A/A arm
 * account for. Latency is not measured this way (a paused server's requests wait): p50 and p99 are NaN.
 */
export async function rotatedRounds(arms: readonly FreshArm[], options: RotatedOptions): Promise<TargetSummary[]> {
  const samples = new Map<string, RoundSample[]>(arms.map((a) => [a.id, []]));
  const warmups = new Map<string, { requests: number; errors: number }>();
  const { aa } = options;
  const maxRounds = aa === undefined ? options.rounds : options.rounds * MORE_ROUNDS_FACTOR;
  const cpuOf = (id: string) => (samples.get(id) ?? []).map((s) => s.cpuUsPerRequest);
  const anotherRound = (round: number) =>
    round < options.rounds ||
    (round < maxRounds && aa !== undefined && !(aaSpread(pairedRatios(cpuOf(aa.arm), cpuOf(aa.baseline))) < AA_TARGET));
  let another = true;
  for (let round = 1; another; round++) {
    const servers = new Map<string, ServerProcess>();
    const loads: Load[] = [];
    try {
      for (const arm of flippedOrder(arms, round)) servers.set(arm.id, await arm.start(round));
      const serverOf = (arm: FreshArm) => servers.get(arm.id) as ServerProcess;
      if (round === 1) await options.inspect?.(servers, 'first');
      const idleRss = new Map(arms.map((arm) => [arm.id, serverOf(arm).rssBytes()]));
      // The warm-up is a rotation too, so every arm has the same history when it is measured. Warmed
      // one after the other, an arm's place in that order moved its measure (a six-arm run: an A/A
      // pair −4 % in 10 of 10 rounds, one arm +0 or +20–30 % with the start order); the first had
      // idled longest, the last was paused straight after its warm-up (bench/BENCHMARKS.md, eighth run).
      const warmup = await rotation(arms, serverOf, loads, {
        ...options,
        seconds: options.warmupSeconds || 1,
        seed: options.seed + round * 7919 + 1,
      });
      arms.forEach((arm, i) => {
        const w = warmup.results[i];
        if (w.requests === 0) throw new Error(`${arm.id}: no response during warm-up of round ${round}`);
        if (round === 1) warmups.set(arm.id, { requests: w.requests, errors: errorsOf(w) });
      });
      await options.afterWarmup?.(round);
      const { results, tallies } = await rotation(arms, serverOf, loads, { ...options, seed: options.seed + round * 7919 });
      arms.forEach((arm, i) => {
        const r = results[i];
        const t = tallies[i];
        if (r.requests === 0 || errorsOf(r) > 0) {
          const state = serverOf(arm).hasExited
            ? `gone (${serverOf(arm).exitStatus}): ${serverOf(arm).errorOutput.slice(-1500)}`
            : 'still running';
          throw new Error(
            `${arm.id}: ${r.requests} responses, errors ${JSON.stringify(r.errors)} in round ${round}; the server is ${state}`,
          );
        }
        samples.get(arm.id)?.push({
          round,
          requests: r.requests,
          seconds: t.activeSeconds,
          rps: r.requests / t.activeSeconds,
          p50Ms: Number.NaN,
          p99Ms: Number.NaN,
          maxMs: Number.NaN,
          cpuUsPerRequest: (t.cpuSeconds / r.requests) * 1e6,
          cpuShare: t.cpuSeconds / t.activeSeconds,
          rssBytes: serverOf(arm).rssBytes(),
          idleRssBytes: idleRss.get(arm.id) as number,
          heapUsedBytes: Number.NaN,
          errors: errorsOf(r),
        });
      });
      options.log(
        `  round ${round}: ${arms.map((a) => `${a.id} ${samples.get(a.id)?.at(-1)?.cpuUsPerRequest.toFixed(1)}µs/req`).join(' | ')}`,
      );
      another = anotherRound(round);
      if (!another) await options.inspect?.(servers, 'last');
    } finally {
      for (const load of loads) load.abort.abort();
      await Promise.allSettled(loads.map((l) => l.result));
      for (const server of servers.values()) await options.stop(server);
    }
  }
  return summarize(
    arms.map((a) => ({ id: a.id, baseline: a.baseline })),
    samples,
    warmups,
  );
}
