/**
 * Micro-benchmark and equivalence check of the proposed recorder against today's AppMetrics.
 * Run by the harness (section `hotpath`) pinned to the server core; prints one JSON line.
 *   node bench/dist/src/proposal/hotpath.js [observations per repetition, default 1000000]
 * 1. Same observations into both: the two HTTP families must render byte for byte the same.
 * 2. ns per observation (interleaved repetitions, median), on a realistic mix of label sets.
 * 3. render time with 1k, 10k and 50k HTTP samples.
 */
import { AppMetrics, HTTP_DURATION_BUCKETS, METRICS } from '@obsnest/observability';
import { HttpRecorder } from './http-recorder.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Families of one name out of a prom-client exposition. */
function family(text: string, name: string): string {
  const blocks = text.split('\n\n');
  return blocks.find((b) => b.startsWith(`# HELP ${name} `))?.trim() ?? '';
}

function newCurrent(): AppMetrics {
  return new AppMetrics({ appVersion: 'bench', defaultMetrics: false });
}

function newProposed(): HttpRecorder {
  return new HttpRecorder(METRICS.httpRequestsTotal, METRICS.httpRequestDurationSeconds, HTTP_DURATION_BUCKETS);
}

// Label values as the hook passes them: long-lived strings (route templates, method names).
const METHODS = ['GET', 'POST', 'DELETE'];
const ROUTES = ['/users', '/users/:id', '/bench/:id', 'UNMATCHED', '/orders/:orderId/items/:itemId'];
const STATUSES = [200, 201, 204, 400, 404, 500];

interface Observation {
  method: string;
  route: string;
  status: number;
  seconds: number;
}

function observations(n: number, seed: number): Observation[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => ({
    method: METHODS[Math.floor(r() * METHODS.length)],
    route: ROUTES[Math.floor(r() * ROUTES.length)],
    status: STATUSES[Math.floor(r() * STATUSES.length)],
    seconds: r() < 0.95 ? r() * 0.05 : r() * 12,
  }));
}

async function equivalence(): Promise<{ identical: boolean; detail: string }> {
  const current = newCurrent();
  const proposed = newProposed();
  const obs = observations(50_000, 7);
  // a route template that needs escaping too
  obs.push({ method: 'GET', route: '/we"ird\\path\nx', status: 200, seconds: 0.2 });
  for (const o of obs) {
    current.observeHttpRequest(o.method, o.route, o.status, o.seconds);
    proposed.observe(o.method, o.route, o.status, o.seconds);
  }
  const a = await current.render();
  const b = proposed.render();
  for (const name of [METRICS.httpRequestsTotal.name, METRICS.httpRequestDurationSeconds.name]) {
    const fa = family(a, name);
    const fb = family(b, name);
    if (fa !== fb) {
      const la = fa.split('\n');
      const lb = fb.split('\n');
      const i = la.findIndex((l, k) => l !== lb[k]);
      return { identical: false, detail: `${name} differs at line ${i}: ${JSON.stringify(la[i])} vs ${JSON.stringify(lb[i])}` };
    }
  }
  return { identical: true, detail: `${obs.length} observations, ${proposed.seriesCount} label sets: identical text` };
}

function nsPerObservation(): { current: number; proposed: number; currentRuns: number[]; proposedRuns: number[] } {
  const obs = observations(1 << 16, 11);
  const mask = obs.length - 1;
  const current = newCurrent();
  const proposed = newProposed();
  const runs = { current: [] as number[], proposed: [] as number[] };
  const n = Number(process.argv[2] ?? 1_000_000);
  for (let rep = 0; rep < 9; rep++) {
    for (const which of rep % 2 === 0 ? (['current', 'proposed'] as const) : (['proposed', 'current'] as const)) {
      const start = process.hrtime.bigint();
      if (which === 'current') {
        for (let i = 0; i < n; i++) {
          const o = obs[i & mask];
          current.observeHttpRequest(o.method, o.route, o.status, o.seconds);
        }
      } else {
        for (let i = 0; i < n; i++) {
          const o = obs[i & mask];
          proposed.observe(o.method, o.route, o.status, o.seconds);
        }
      }
      const ns = Number(process.hrtime.bigint() - start) / n;
      if (rep > 0) runs[which].push(ns); // first repetition is JIT warm-up
    }
  }
  return { current: median(runs.current), proposed: median(runs.proposed), currentRuns: runs.current, proposedRuns: runs.proposed };
}

async function renderTimes(): Promise<{ samples: number; currentMs: number; proposedMs: number }[]> {
  const out: { samples: number; currentMs: number; proposedMs: number }[] = [];
  for (const samples of [1000, 10_000, 50_000]) {
    const current = newCurrent();
    const proposed = newProposed();
    const combos = Math.ceil(samples / 15);
    for (let i = 0; i < combos; i++) {
      current.observeHttpRequest('GET', `/synthetic/route-${i}/:id`, 200, 0.003);
      proposed.observe('GET', `/synthetic/route-${i}/:id`, 200, 0.003);
    }
    const tc: number[] = [];
    const tp: number[] = [];
    for (let rep = 0; rep < 7; rep++) {
      let t = performance.now();
      await current.render();
      tc.push(performance.now() - t);
      t = performance.now();
      proposed.render();
      tp.push(performance.now() - t);
    }
    out.push({ samples: combos * 15, currentMs: median(tc.slice(1)), proposedMs: median(tp.slice(1)) });
  }
  return out;
}

const result = { equivalence: await equivalence(), nsPerObservation: nsPerObservation(), render: await renderTimes() };
process.stdout.write(`HOTPATHJSON ${JSON.stringify(result)}\n`);
