import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { restartDelayMs, STABLE_AFTER_MS } from '../src/cluster/restart-backoff.js';

describe('worker restart back-off', () => {
  it('doubles from 250 ms for a worker that keeps dying young, up to 30 s', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 8].map((crashes) => restartDelayMs(crashes, 1000)),
      [250, 500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000],
    );
  });

  it('replaces at once a worker that had run stably', () => {
    assert.equal(restartDelayMs(7, STABLE_AFTER_MS), 0);
    assert.equal(restartDelayMs(0, STABLE_AFTER_MS - 1), 250);
  });
});
