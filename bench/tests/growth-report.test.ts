import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchCpu, growthGoals, growthMarkdown } from '../src/report-growth.js';
import type { GrowthBackend, GrowthBatch, GrowthPoint, GrowthResult } from '../src/results.js';

const batch = (round: number, signup: number, read: number, db?: number): GrowthBatch => ({
  round,
  users: 1000,
  signupCpuMs: signup,
  readCpuMs: read,
  scrapeCpuMs: 2,
  listCpuMs: 1,
  signupDbCpuMs: db,
  readDbCpuMs: db,
  scrapeDbCpuMs: db,
  listDbCpuMs: db,
  rssBytes: 300 * 2 ** 20,
});

const point = (id: string, signups: number[], reads: number[], db?: number): GrowthPoint => ({
  id,
  seeded: 1000,
  seedSeconds: 1,
  usersAtEnd: 2000,
  atRest: { rssBytes: 250 * 2 ** 20, heapUsedBytes: 0, heapTotalBytes: 0 },
  batches: signups.map((s, i) => batch(i + 1, s, reads[i], db)),
  relations: {},
});

const result = (backends: GrowthBackend[]): GrowthResult => ({
  adapter: 'express',
  concurrency: 4,
  signupsPerBatch: 100,
  readsPerBatch: 1000,
  scrapesPerBatch: 10,
  listsPerBatch: 100,
  warmupSignups: 200,
  rounds: 8,
  backends,
});

const flat = [2, 2.1, 1.9, 2, 2.05, 1.95, 2, 2];

describe('growth report', () => {
  it('judges every larger point against the smallest, with the A/A pair beside it', () => {
    const g = result([
      {
        backend: 'pglite',
        description: 'test',
        points: [
          point('1k', flat, flat),
          point('1k-again', flat, flat),
          point(
            '20k',
            flat.map((x) => x * 1.05),
            flat,
          ),
          point(
            '100k',
            flat.map((x) => x * 1.3),
            flat,
          ),
        ],
      },
    ]);
    const goals = growthGoals(g, false);
    const find = (at: string, route: string) => goals.find((x) => x.goal.includes(`at ${at} users`) && x.scope.includes(route));
    assert.equal(find('20k', 'POST /users')?.met, true);
    assert.equal(find('100k', 'POST /users')?.met, false);
    assert.match(find('100k', 'POST /users')?.measured ?? '', /\+30\.0 %.*A\/A \(1k-again vs 1k\) \+0\.0 %.*costlier/);
    assert.equal(find('100k', 'GET /users/:id')?.met, true);
    assert.equal(growthGoals(g, true)[0].met, null, 'smoke runs are not judged');
    assert.match(growthMarkdown(g), /\| 100k \| 1,000 → 2,000 \| 2\.60 \| \+30\.0 %/);
  });

  it('counts the PostgreSQL backends’ CPU with the API’s', () => {
    assert.equal(batchCpu(batch(1, 2, 0.5, 0.25), 'signup'), 2.25);
    assert.equal(batchCpu(batch(1, 2, 0.5, 0.25), 'signup', 'api'), 2);
    assert.equal(batchCpu(batch(1, 2, 0.5), 'read'), 0.5);
  });
});
