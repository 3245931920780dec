import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { condense, markdownTable, verdictLines } from '../src/soak/format.js';
import { type EndState, judge, type Sample, type Thresholds } from '../src/soak/verdict.js';

/** A sample at minute `t`; `grow` scales the memory figures (1 = flat). */
function sample(t: number, grow = 1, extra: Partial<Sample> = {}): Sample {
  return {
    t: t * 60,
    rssMiB: 100 * grow,
    heapUsedMiB: 40 * grow,
    heapMinMiB: 30 * grow,
    lagP99Ms: 12,
    lagP99MaxMs: 20,
    series: 500,
    appSeries: 80,
    newAppSeries: [],
    exposureKiB: 60,
    reqPerSec: 400,
    p50Ms: 2,
    p99Ms: 9,
    apiCpuPct: 50,
    apiCpuMsPerRequest: 1.25,
    load1: 1.5,
    requests: t * 24_000,
    failures: 0,
    websocketConnections: 10,
    wsEvents: t * 100,
    wsConnects: t * 5,
    scrapes: 60,
    ...extra,
  };
}

const THRESHOLDS: Thresholds = {
  maxRssGrowth: 0.05,
  maxHeapGrowth: 0.05,
  maxSeriesGrowth: 0.02,
  maxCpuPerRequestGrowth: 0.1,
  judgeMemory: true,
};
const CLEAN_END: EndState = {
  failures: 0,
  socketConnectErrors: 0,
  socketConnects: 50,
  socketConnectsPlanned: 60,
  unexpectedDisconnects: 0,
  websocketConnectionsAfter: 0,
  apiRunning: true,
  apiExit: { code: 0, signal: null },
};
const minutes = (n: number, grow: (t: number) => number = () => 1) => Array.from({ length: n }, (_, i) => sample(i + 1, grow(i + 1)));

describe('soak verdict', () => {
  it('flat memory and a clean end: levels off, ok', () => {
    const verdict = judge(minutes(12), THRESHOLDS, CLEAN_END);
    assert.equal(verdict.levelled, true);
    assert.equal(verdict.clean, true);
    assert.equal(verdict.ok, true);
    assert.equal(verdict.growth.rss, 0);
    assert.equal(verdict.slopesPerMinute.rssMiB, 0);
  });

  it('memory growing 2 % a minute does not level off; judged only when the run is long enough', () => {
    const leaking = minutes(12, (t) => 1 + 0.02 * t);
    const verdict = judge(leaking, THRESHOLDS, CLEAN_END);
    assert.equal(verdict.levelled, false);
    assert.equal(verdict.ok, false);
    assert.ok(verdict.growth.rss > 0.05, `growth ${verdict.growth.rss}`);
    assert.ok(Math.abs(verdict.slopesPerMinute.rssMiB - 2) < 1e-9, 'RSS slope: 2 MiB a minute');
    assert.equal(judge(leaking, { ...THRESHOLDS, judgeMemory: false }, CLEAN_END).levelled, true, 'short run: printed, not judged');
  });

  it('a new application series in the last third fails, whatever the memory', () => {
    const samples = minutes(12);
    samples[11] = sample(12, 1, { newAppSeries: ['http_requests_total{route="/x"}'] });
    const verdict = judge(samples, THRESHOLDS, CLEAN_END);
    assert.equal(verdict.levelled, false);
    assert.match(verdict.checks.find((c) => c.name === 'application series flat after warm-up')?.detail ?? '', /1 new in the last third/);
  });

  it('a failed request, a lingering connection or an unclean exit makes it not clean', () => {
    for (const end of [
      { ...CLEAN_END, failures: 1 },
      { ...CLEAN_END, websocketConnectionsAfter: 2 },
      { ...CLEAN_END, apiExit: { code: 1, signal: null } },
      { ...CLEAN_END, socketConnects: 10 },
    ]) {
      const verdict = judge(minutes(12), THRESHOLDS, end);
      assert.equal(verdict.clean, false, JSON.stringify(end));
      assert.equal(verdict.ok, false);
    }
  });

  it('fewer than three samples is never ok', () => {
    assert.equal(judge(minutes(2), THRESHOLDS, CLEAN_END).ok, false);
  });

  it('the summary table keeps the first and last samples, one row each', () => {
    const samples = minutes(60);
    const rows = condense(samples);
    assert.ok(rows.length <= 17, `${rows.length} rows`);
    assert.equal(rows[0], samples[0]);
    assert.equal(rows.at(-1), samples.at(-1));
    assert.deepEqual(condense(samples.slice(0, 5)), samples.slice(0, 5));
    const table = markdownTable(rows).split('\n');
    assert.equal(table.length, rows.length + 2, 'head, rule, one line per sample');
    assert.match(table[2], /^\| 60 \| 100\.0 \| 40\.0 \(30\.0\) \|/);
    assert.ok(
      table.every((l) => l.split('|').length === table[0].split('|').length),
      'every row has every column',
    );
  });

  it('verdict lines say FAIL for a deciding check and warn for an advisory one', () => {
    const lines = verdictLines(
      judge(
        minutes(12, (t) => 1 + 0.02 * t),
        THRESHOLDS,
        { ...CLEAN_END, failures: 3 },
      ),
    );
    assert.ok(lines.some((l) => /^ {2}FAIL RSS levels off/.test(l)));
    assert.ok(lines.some((l) => /^ {2}FAIL no failed request: 3/.test(l)));
    assert.match(lines.at(-1) ?? '', /does NOT level off; FAILURES/);
  });
});
