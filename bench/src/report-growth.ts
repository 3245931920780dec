/** Goals and tables of the growth section (bench/src/sections/growth.ts). */
import { aaSpread, compareWithAA, median, pairedRatios } from './lib/stats.js';
import type { GrowthBackend, GrowthBatch, GrowthPoint, GrowthResult } from './results.js';

export interface GrowthGoal {
  readonly section: string;
  readonly goal: string;
  readonly scope: string;
  readonly measured: string;
  readonly met: boolean | null;
}

/** The issue's bound: a request at the larger point may cost at most this much more than at the smallest. */
export const GROWTH_LIMIT = 1.15;

type Route = 'signup' | 'read' | 'list' | 'scrape';
const ROUTES: readonly { route: Route; name: string }[] = [
  { route: 'signup', name: 'POST /users' },
  { route: 'read', name: 'GET /users/:id' },
  { route: 'list', name: 'GET /users?limit=100' },
];

/** CPU per request of one batch: the API's, plus the PostgreSQL backends' where there are any. */
export function batchCpu(b: GrowthBatch, route: Route, part: 'api' | 'total' = 'total'): number {
  const api = { signup: b.signupCpuMs, read: b.readCpuMs, list: b.listCpuMs, scrape: b.scrapeCpuMs }[route];
  const db = { signup: b.signupDbCpuMs, read: b.readDbCpuMs, list: b.listDbCpuMs, scrape: b.scrapeDbCpuMs }[route];
  return part === 'api' || db === undefined ? api : api + db;
}

/** Ratios of `point` over `base`, paired by round. */
function ratiosOf(point: GrowthPoint, base: GrowthPoint, route: Route): number[] {
  const byRound = new Map(base.batches.map((b) => [b.round, batchCpu(b, route)]));
  return pairedRatios(
    point.batches.map((b) => batchCpu(b, route)),
    point.batches.map((b) => byRound.get(b.round) ?? Number.NaN),
  );
}

const pct = (ratio: number) => (Number.isFinite(ratio) ? `${ratio >= 1 ? '+' : '−'}${Math.abs((ratio - 1) * 100).toFixed(1)} %` : '–');
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const mib = (bytes: number) => (Number.isFinite(bytes) ? (bytes / 2 ** 20).toFixed(0) : '–');
const num = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

const backendName = (b: GrowthBackend) => (b.backend === 'pglite' ? 'PGlite (embedded default)' : 'PostgreSQL');

export interface GrowthComparison {
  readonly point: GrowthPoint;
  readonly route: Route;
  readonly ratio: number;
  readonly low: number;
  readonly high: number;
  readonly aaRatio: number;
  readonly aaSpread: number;
  readonly verdict: string;
}

/** Every larger point against the smallest, per route, with the A/A pair's spread. */
export function growthComparisons(b: GrowthBackend): GrowthComparison[] {
  const [base, again, ...larger] = b.points;
  if (!base || !again) return [];
  const out: GrowthComparison[] = [];
  for (const { route } of ROUTES) {
    const aa = ratiosOf(again, base, route);
    const spreadAA = aaSpread(aa);
    for (const point of larger) {
      const c = compareWithAA(ratiosOf(point, base, route), spreadAA);
      out.push({ point, route, ratio: c.ratio, low: c.low, high: c.high, aaRatio: median(aa), aaSpread: spreadAA, verdict: c.verdict });
    }
  }
  return out;
}

export function growthGoals(g: GrowthResult | undefined, thin: boolean): GrowthGoal[] {
  const goals: GrowthGoal[] = [];
  for (const b of g?.backends ?? []) {
    const base = b.points[0];
    for (const c of growthComparisons(b)) {
      const name = ROUTES.find((r) => r.route === c.route)?.name ?? c.route;
      const cost = (p: GrowthPoint) => median(p.batches.map((x) => batchCpu(x, c.route)));
      goals.push({
        section: 'growth',
        goal: `CPU per request at ${c.point.id} users within 15 % of at ${base.id}`,
        scope: `${backendName(b)}, ${name}${b.backend === 'postgres' ? ' (API + PostgreSQL backend)' : ''}`,
        measured:
          `${ms(cost(base))} → ${ms(cost(c.point))} ms, ${pct(c.ratio)} [${pct(c.low)} … ${pct(c.high)}]; ` +
          `A/A (${b.points[1].id} vs ${base.id}) ${pct(c.aaRatio)}, spread ±${(c.aaSpread * 100).toFixed(1)} %: ${c.verdict}`,
        met: thin ? null : c.ratio <= GROWTH_LIMIT,
      });
    }
  }
  return goals;
}

const table = (head: string[], rows: string[][]) =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

export function growthMarkdown(g: GrowthResult): string {
  const out: string[] = [];
  out.push('#### Growth: CPU per request at 1k, 20k and 100k users (real API bin, `POST /users`, `GET /users/:id`)');
  out.push('');
  out.push(
    `Each point is its own database, seeded in bulk with what that many sign-ups leave (users rows, their outbox messages inserted and deleted, sent-mail records, mailbox files; \`@obsnest/api/seed\`), ` +
      `then served by its own API process (${g.adapter}, NODE_ENV=production, LOG_LEVEL=warn), all pinned to one core. ` +
      `Every round runs, per point in a shuffled order, ${g.signupsPerBatch} real HTTP sign-ups, ${g.readsPerBatch} reads of random existing users, ${g.scrapesPerBatch} scrapes and ${g.listsPerBatch} first pages of \`GET /users?limit=100\` ` +
      `(${g.concurrency} clients, keep-alive), after ${g.warmupSignups} sign-ups and ${g.warmupSignups * 10} reads of warm-up; ${g.rounds} rounds. ` +
      "CPU per request = the API process's `process.cpuUsage()` over the batch (and, on PostgreSQL, the CPU of the backends serving its pool, from /proc) / requests. " +
      'The smallest point runs twice (two databases, two processes): that A/A pair gives the noise every ratio is read against. Ratios are paired by round, median with its ~95 % interval.',
  );
  for (const b of g.backends) {
    out.push('');
    out.push(`**${backendName(b)}**: ${b.description}.`);
    out.push('');
    const base = b.points[0];
    const comparisons = growthComparisons(b);
    const vs = (p: GrowthPoint, route: Route) => {
      if (p === base) return '–';
      if (p === b.points[1]) {
        const aa = comparisons.find((c) => c.route === route);
        return aa ? `${pct(aa.aaRatio)} (A/A, ±${(aa.aaSpread * 100).toFixed(1)} %)` : '–';
      }
      const c = comparisons.find((x) => x.point === p && x.route === route);
      return c ? `${pct(c.ratio)} [${pct(c.low)} … ${pct(c.high)}]` : '–';
    };
    const cost = (p: GrowthPoint, route: Route, part: 'api' | 'total') => median(p.batches.map((x) => batchCpu(x, route, part)));
    const pg = b.backend === 'postgres';
    const show = (p: GrowthPoint, route: Route) =>
      pg ? `${ms(cost(p, route, 'api'))} + ${ms(cost(p, route, 'total') - cost(p, route, 'api'))}` : ms(cost(p, route, 'api'));
    const rows = b.points.map((p) => [
      p.id,
      `${num(p.batches[0]?.users ?? p.seeded)} → ${num(p.usersAtEnd)}`,
      show(p, 'signup'),
      vs(p, 'signup'),
      show(p, 'read'),
      vs(p, 'read'),
      show(p, 'list'),
      vs(p, 'list'),
      show(p, 'scrape'),
      mib(p.atRest.rssBytes),
      mib(median(p.batches.map((x) => x.rssBytes))),
      `${mib(p.relations['users.bytes'])} / ${mib(p.relations['outbox.bytes'] ?? Number.NaN)} / ${mib(p.relations['sent_emails.bytes'])}`,
      `${num(p.relations['users.dead'])} / ${num(p.relations['outbox.dead'])}`,
      p.seedSeconds.toFixed(0),
    ]);
    const unit = pg ? 'ms (API + PostgreSQL)' : 'ms';
    out.push(
      table(
        [
          'point',
          'users (first round → end)',
          `POST /users CPU ${unit}`,
          'vs smallest',
          `GET /users/:id CPU ${unit}`,
          'vs smallest',
          `GET /users?limit=100 CPU ${unit}`,
          'vs smallest',
          `GET /metrics CPU ${unit}`,
          'RSS at rest MiB',
          'RSS under load MiB',
          'users / outbox / sent_emails MiB',
          'dead rows users / outbox',
          'seed s',
        ],
        rows,
      ),
    );
    // Per-round figures, so a disturbed round can be told from a trend.
    out.push('');
    out.push(
      `Per round (POST / GET ms${pg ? ', API + backend' : ''}): ` +
        b.points
          .map((p) => `${p.id}: ${p.batches.map((x) => `${ms(batchCpu(x, 'signup'))}/${ms(batchCpu(x, 'read'))}`).join(' · ')}`)
          .join('; '),
    );
  }
  return out.join('\n');
}
