import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { collectRuntimeMetrics } from '../src/runtime-metrics.js';
import { parseExposition, sampleValue } from './support/metrics.js';

/** Name, type and help of every family in a registry, sorted. */
async function families(registry: Registry): Promise<string[]> {
  return (await registry.getMetricsAsJSON()).map((m) => `${m.name} ${m.type} ${m.help}`).sort();
}

/** Enough short-lived garbage for several young-generation collections. */
function churn(): void {
  let keep: object[] = [];
  for (let i = 0; i < 2_000_000; i++) {
    keep.push({ i, s: `x${i}` });
    if (keep.length > 10_000) keep = [];
  }
}

/** The GC histogram alone: right after start the event loop monitor has no reading yet and reports NaN. */
const gcHistogram = async (registry: Registry) => parseExposition(await registry.getSingleMetricAsString('nodejs_gc_duration_seconds'));

describe('runtime metrics', () => {
  it("registers prom-client's default families, the GC histogram read from v8.GCProfiler", async () => {
    const ours = new Registry();
    const runtime = collectRuntimeMetrics(ours);
    try {
      assert.equal(runtime.gcFromProfiler, true, 'prom-client collectors loaded by name, GC from the profiler');
      const reference = new Registry();
      collectDefaultMetrics({ register: reference });
      assert.deepEqual(await families(ours), await families(reference), 'the same families, types and help as collectDefaultMetrics');
    } finally {
      runtime.stop();
    }
  });

  it('counts the collections between two scrapes, by kind, and no more once stopped', async () => {
    const registry = new Registry();
    const runtime = collectRuntimeMetrics(registry);
    try {
      churn();
      const first = await gcHistogram(registry);
      const minor = sampleValue(first, 'nodejs_gc_duration_seconds_count', { kind: 'minor' });
      assert.ok(minor > 0, `minor collections counted: ${minor}`);
      assert.ok(sampleValue(first, 'nodejs_gc_duration_seconds_sum', { kind: 'minor' }) > 0, 'with their pauses');
      churn();
      const second = await gcHistogram(registry);
      assert.ok(sampleValue(second, 'nodejs_gc_duration_seconds_count', { kind: 'minor' }) > minor, 'more after more garbage');
      runtime.stop();
      const stoppedAt = sampleValue(await gcHistogram(registry), 'nodejs_gc_duration_seconds_count', { kind: 'minor' });
      churn();
      const after = sampleValue(await gcHistogram(registry), 'nodejs_gc_duration_seconds_count', { kind: 'minor' });
      assert.equal(after, stoppedAt, 'nothing recorded after stop()');
    } finally {
      runtime.stop();
    }
  });
});
