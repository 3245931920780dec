/**
 * Micro-benchmark and equivalence check of AppMetrics' HTTP recorder against the prom-client
 * recording it replaced (prom-client-recording.ts). Run by the harness (section `hotpath`) pinned
 * to the server core; prints one JSON line.
 *   node bench/dist/src/hotpath/hotpath.js [observations per repetition, default 1000000]
 * 1. Same observations into both: the two HTTP families must render byte for byte the same.
 * 2. ns per observation (interleaved repetitions, median), on a realistic mix of label sets.
 * 3. render time with 1k, 10k and 50k HTTP samples.
 */
import { seededRandom } from '@obsnest/testkit';
import { AppMetrics, METRICS } from '@obsnest/observability';
import { Registry } from 'prom-client';
import { type PromClientRecording, promClientRecording } from './prom-client-recording.js';

const rng = seededRandom;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Families of one name out of a prom-client exposition. */
function family(text: string, name: string): string {
  const blocks = text.split('\n\n');
  return blocks.find((b) => b.startsWith(`# HELP ${name} `))?.trim() ?? '';
}

/** The implementation before the fix: prom-client, in a registry of its own. */
function newBefore(): { registry: Registry; recording: PromClientRecording } {
  const registry = new Registry();
  return { registry, recording: promClientRecording(registry) };
}

function newOurs(): AppMetrics {
  return new AppMetrics({ appVersion: 'bench', defaultMetrics: false });
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
  const before = newBefore();
  const ours = newOurs();
  const obs = observations(50_000, 7);
  // a route template that needs escaping too
  obs.push({ method: 'GET', route: '/we"ird\\path\nx', status: 200, seconds: 0.2 });
  for (const o of obs) {
    before.recording.observe(o.method, o.route, o.status, o.seconds);
    ours.observeHttpRequest(o.method, o.route, o.status, o.seconds);
  }
  const a = await before.registry.metrics();
  const b = await ours.render();
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
  return { identical: true, detail: `${obs.length} observations, ${ours.httpSeriesCount} label sets: identical text` };
}

function nsPerObservation(): { before: number; ours: number; beforeRuns: number[]; oursRuns: number[] } {
  const obs = observations(1 << 16, 11);
  const mask = obs.length - 1;
  const before = newBefore().recording;
  const ours = newOurs();
  const runs = { before: [] as number[], ours: [] as number[] };
  const n = Number(process.argv[2] ?? 1_000_000);
  for (let rep = 0; rep < 9; rep++) {
    for (const which of rep % 2 === 0 ? (['before', 'ours'] as const) : (['ours', 'before'] as const)) {
      const start = process.hrtime.bigint();
      if (which === 'before') {
        for (let i = 0; i < n; i++) {
          const o = obs[i & mask];
          before.observe(o.method, o.route, o.status, o.seconds);
        }
      } else {
        for (let i = 0; i < n; i++) {
          const o = obs[i & mask];
          ours.observeHttpRequest(o.method, o.route, o.status, o.seconds);
        }
      }
      const ns = Number(process.hrtime.bigint() - start) / n;
      if (rep > 0) runs[which].push(ns); // first repetition is JIT warm-up
    }
  }
  return { before: median(runs.before), ours: median(runs.ours), beforeRuns: runs.before, oursRuns: runs.ours };
}

/** Render time of the HTTP families alone (no default metrics in either), interleaved. */
async function renderTimes(): Promise<{ samples: number; beforeMs: number; oursMs: number }[]> {
  const out: { samples: number; beforeMs: number; oursMs: number }[] = [];
  for (const samples of [1000, 10_000, 50_000]) {
    const before = newBefore();
    const ours = newOurs();
    const combos = Math.ceil(samples / 15);
    for (let i = 0; i < combos; i++) {
      before.recording.observe('GET', `/synthetic/route-${i}/:id`, 200, 0.003);
      ours.observeHttpRequest('GET', `/synthetic/route-${i}/:id`, 200, 0.003);
    }
    const tb: number[] = [];
    const to: number[] = [];
    for (let rep = 0; rep < 7; rep++) {
      let t = performance.now();
      await before.registry.metrics();
      tb.push(performance.now() - t);
      t = performance.now();
      await ours.render();
      to.push(performance.now() - t);
    }
    out.push({ samples: combos * 15, beforeMs: median(tb.slice(1)), oursMs: median(to.slice(1)) });
  }
  return out;
}

const result = { equivalence: await equivalence(), nsPerObservation: nsPerObservation(), render: await renderTimes() };
process.stdout.write(`HOTPATHJSON ${JSON.stringify(result)}\n`);
