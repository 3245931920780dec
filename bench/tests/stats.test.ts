import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  aaSpread,
  MIN_AA_ROUNDS,
  compareWithAA,
  flippedOrder,
  linearFit,
  max,
  median,
  medianInterval,
  min,
  pairedRatios,
  rotationSchedule,
  shuffled,
  spread,
} from '../src/lib/stats.js';

describe('bench statistics', () => {
  it('median: middle value, mean of the two middle ones, non-finite values ignored', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([5, Number.NaN, 1, Number.POSITIVE_INFINITY, 3]), 3);
    assert.ok(Number.isNaN(median([])));
    assert.ok(Number.isNaN(median([Number.NaN])));
  });

  it('spread is (max - min) / median, 0 for a zero median', () => {
    assert.equal(min([3, 1, 2]), 1);
    assert.equal(max([3, 1, 2]), 3);
    assert.equal(spread([90, 100, 110]), 0.2);
    assert.equal(spread([0, 0, 0]), 0);
  });

  it('linearFit recovers an exact line with R² = 1, and a flat one', () => {
    const xs = [0, 1, 2, 3, 4];
    const fit = linearFit(
      xs,
      xs.map((x) => 2.5 * x - 1),
    );
    assert.ok(Math.abs(fit.slope - 2.5) < 1e-12);
    assert.ok(Math.abs(fit.intercept + 1) < 1e-12);
    assert.ok(Math.abs(fit.r2 - 1) < 1e-12);
    assert.deepEqual(linearFit(xs, [7, 7, 7, 7, 7]), { slope: 0, intercept: 7, r2: 1 });
    const noisy = linearFit(xs, [0, 2, 1, 3, 2]);
    assert.ok(noisy.r2 > 0 && noisy.r2 < 1, `R² ${noisy.r2}`);
  });

  it('shuffled is a permutation, the same for the same seed, another for another seed', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const a = shuffled(items, 42);
    assert.deepEqual(
      [...a].sort((x, y) => x - y),
      items,
    );
    assert.deepEqual(shuffled(items, 42), a);
    assert.notDeepEqual(shuffled(items, 43), a);
    assert.deepEqual(
      items,
      Array.from({ length: 20 }, (_, i) => i),
      'the input is left alone',
    );
  });

  it('medianInterval: min–max below 6 samples, inner order statistics beyond, NaN when empty', () => {
    assert.deepEqual(medianInterval([3, 1, 2]), { low: 1, median: 2, high: 3 });
    const twenty = Array.from({ length: 20 }, (_, i) => i + 1);
    // k = floor((20 − 1.96·√20) / 2) = 5: the 5th and the 16th of 20.
    assert.deepEqual(medianInterval(twenty), { low: 5, median: 10.5, high: 16 });
    assert.ok(Number.isNaN(medianInterval([]).median));
  });

  it('aaSpread: the larger of the A/A median offset and its interval half-width', () => {
    assert.ok(Math.abs(aaSpread([0.99, 1.0, 1.01]) - 0.01) < 1e-12);
    // Tight but biased: the offset dominates.
    assert.ok(Math.abs(aaSpread([1.03, 1.03, 1.03]) - 0.03) < 1e-12);
  });

  it('aaSpread: unknown (NaN) below MIN_AA_ROUNDS rounds, so a one-round run cannot pass a spread goal', () => {
    // One round on the dot read as a spread of 0, a goal of "below 2 %" met by luck.
    assert.ok(Number.isNaN(aaSpread([1.0])));
    assert.ok(Number.isNaN(aaSpread([1.0, 1.001, Number.NaN])));
    assert.equal(aaSpread(Array.from({ length: MIN_AA_ROUNDS }, () => 1)), 0);
    assert.equal(compareWithAA([1.2, 1.2, 1.2], aaSpread([1.0])).verdict, 'no difference');
  });

  it('compareWithAA: inside the A/A spread is "no difference", never a gain; outside, costlier or cheaper', () => {
    assert.equal(compareWithAA([0.97, 0.98, 0.99], 0.03).verdict, 'no difference');
    assert.equal(compareWithAA([1.02, 1.02, 1.02], 0.03).verdict, 'no difference');
    assert.equal(compareWithAA([1.05, 1.06, 1.07], 0.02).verdict, 'costlier');
    assert.equal(compareWithAA([0.9, 0.91, 0.92], 0.02).verdict, 'cheaper');
    assert.equal(compareWithAA([Number.NaN], 0.02).verdict, 'no difference');
    const c = compareWithAA([1.05, 1.06, 1.07], 0.02);
    assert.deepEqual([c.low, c.ratio, c.high], [1.05, 1.06, 1.07]);
  });

  it('pairedRatios pairs by round; flippedOrder reverses the arms on even rounds', () => {
    assert.deepEqual(pairedRatios([110, 120], [100, 100]), [1.1, 1.2]);
    assert.deepEqual(pairedRatios([1, 2], [0, 1]), [2]);
    assert.deepEqual(flippedOrder(['a', 'b', 'c'], 1), ['a', 'b', 'c']);
    assert.deepEqual(flippedOrder(['a', 'b', 'c'], 2), ['c', 'b', 'a']);
    assert.deepEqual(flippedOrder(['a', 'b', 'c'], 3), ['a', 'b', 'c']);
  });

  it('rotationSchedule: every arm once per cycle, in orders that vary between cycles, reproducible from the seed', () => {
    const schedule = rotationSchedule(3, 40, 7);
    assert.equal(schedule.length, 120);
    const cycles = Array.from({ length: 40 }, (_, c) => schedule.slice(c * 3, c * 3 + 3));
    for (const cycle of cycles) assert.deepEqual([...cycle].sort(), [0, 1, 2], 'each cycle runs every arm once');
    const predecessors = new Set(schedule.slice(1).flatMap((arm, i) => (arm === schedule[i] ? [] : [`${schedule[i]}>${arm}`])));
    assert.equal(predecessors.size, 6, 'every arm follows every other one at some point');
    assert.ok(new Set(cycles.map((c) => c.join())).size > 3, 'orders vary between cycles');
    assert.deepEqual(rotationSchedule(3, 40, 7), schedule, 'same seed, same schedule');
    assert.notDeepEqual(rotationSchedule(3, 40, 8), schedule);
  });
});
