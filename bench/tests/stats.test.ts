import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { linearFit, max, median, min, shuffled, spread } from '../src/lib/stats.js';

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
});
