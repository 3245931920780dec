import { seededRandom } from '@obsnest/testkit';
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return Number.NaN;
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function min(values: readonly number[]): number {
  return Math.min(...values);
}

export function max(values: readonly number[]): number {
  return Math.max(...values);
}

/** Spread of a sample as (max - min) / median: how much a figure moved between rounds. */
export function spread(values: readonly number[]): number {
  const m = median(values);
  return m === 0 ? 0 : (max(values) - min(values)) / m;
}

/** Least-squares slope and intercept of y over x, and R². */
export function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number; r2: number } {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}

/** A deterministic shuffle (mulberry32), so a run's variant order can be reproduced from its seed. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const rand = seededRandom(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Every arm index `quanta` times, one cycle of all arms after another, each cycle in a fresh (seeded) order, so no arm always follows the same one. */
export function rotationSchedule(arms: number, quanta: number, seed: number): number[] {
  const order: number[] = [];
  const indices = Array.from({ length: arms }, (_, i) => i);
  for (let cycle = 0; cycle < quanta; cycle++) order.push(...shuffled(indices, seed + cycle));
  return order;
}

/**
 * The median with a distribution-free ~95 % interval: the order statistics at ranks k and n−k+1,
 * k from the binomial(n, ½) normal approximation (for n < 6 the interval is min–max).
 */
export function medianInterval(values: readonly number[], z = 1.96): { low: number; median: number; high: number } {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { low: Number.NaN, median: Number.NaN, high: Number.NaN };
  const k = Math.max(1, Math.floor((n - z * Math.sqrt(n)) / 2));
  return { low: sorted[k - 1], median: median(sorted), high: sorted[n - k] };
}

/** Below this many A/A rounds the spread is unknown: one round's offset from 1 says nothing about its noise. */
export const MIN_AA_ROUNDS = 3;

/** Below this A/A spread a method can resolve a 3 % goal (the `A/A spread < 2 %` goals). */
export const AA_TARGET = 0.02;

/**
 * How far the baseline measured against itself (A/A) lands from 1: its median's offset or its
 * interval's half-width, whichever is larger. Differences within it are not differences. NaN (so
 * no goal that needs it is met) with fewer than MIN_AA_ROUNDS rounds.
 */
export function aaSpread(aaRatios: readonly number[]): number {
  if (aaRatios.filter((v) => Number.isFinite(v)).length < MIN_AA_ROUNDS) return Number.NaN;
  const { low, median: m, high } = medianInterval(aaRatios);
  return Math.max(Math.abs(m - 1), (high - low) / 2);
}

export type Verdict = 'no difference' | 'costlier' | 'cheaper';

export interface Comparison {
  /** Median of the paired per-round ratios (arm / baseline of the same round). */
  readonly ratio: number;
  readonly low: number;
  readonly high: number;
  readonly verdict: Verdict;
}

/** Paired ratios judged against the A/A spread: a difference inside it is "no difference", never a gain. */
export function compareWithAA(ratios: readonly number[], spreadAA: number): Comparison {
  const { low, median: ratio, high } = medianInterval(ratios);
  const d = ratio - 1;
  const verdict: Verdict = !(Math.abs(d) > spreadAA) ? 'no difference' : d > 0 ? 'costlier' : 'cheaper';
  return { ratio, low, high, verdict };
}

/** Per-round ratios of `arm` over `baseline`, paired by index (both lists in round order). */
export function pairedRatios(arm: readonly number[], baseline: readonly number[]): number[] {
  return arm.map((v, i) => v / baseline[i]).filter((v) => Number.isFinite(v));
}

/** The arm order of one round: as given on odd rounds, reversed on even ones, so no arm always runs first. */
export function flippedOrder<T>(arms: readonly T[], round: number): T[] {
  return round % 2 === 1 ? [...arms] : [...arms].reverse();
}
