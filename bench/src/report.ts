/** Goals, result file and the Markdown tables of BENCHMARKS.md. */
import { AA_TARGET, aaSpread, compareWithAA, pairedRatios } from './lib/stats.js';
import { growthGoals, growthMarkdown } from './report-growth.js';
import type { BenchOptions } from './options.js';
import type {
  ConsumerResult,
  FloodSectionResult,
  GrowthResult,
  HotpathResult,
  MachineInfo,
  OverheadResult,
  ProfileSummary,
  Ratios,
  ScrapeResult,
  UsersResult,
} from './results.js';

export interface Goal {
  readonly section: string;
  readonly goal: string;
  readonly scope: string;
  readonly measured: string;
  /** null: not measured in this run, or not enough data (smoke). */
  readonly met: boolean | null;
}

export interface Results {
  readonly schema: 1;
  readonly mode: BenchOptions['mode'];
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly seconds: number;
  readonly options: BenchOptions;
  readonly machine: MachineInfo;
  readonly consumer?: ConsumerResult;
  readonly overhead?: OverheadResult;
  readonly users?: UsersResult;
  readonly growth?: GrowthResult;
  readonly scrape?: ScrapeResult[];
  readonly flood?: FloodSectionResult;
  readonly profile?: ProfileSummary[];
  readonly hotpath?: HotpathResult;
  readonly errors: { section: string; error: string }[];
  goals: Goal[];
}

const pct = (ratio: number | undefined, digits = 1) =>
  ratio === undefined || !Number.isFinite(ratio) ? '–' : `${ratio >= 1 ? '+' : '−'}${Math.abs((ratio - 1) * 100).toFixed(digits)} %`;
const num = (n: number | undefined, digits = 0) =>
  n === undefined || !Number.isFinite(n)
    ? '–'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mib = (bytes: number | undefined) => (bytes === undefined || !Number.isFinite(bytes) ? '–' : `${(bytes / 2 ** 20).toFixed(1)}`);
const yes = (met: boolean | null) => (met === null ? 'n/a' : met ? '**yes**' : '**no**');

/** The goals of the `consumer` section: the method's own A/A test, and the module's cost over the bare app. */
export function consumerGoals(c: ConsumerResult | undefined, thin: boolean): Goal[] {
  const goals: Goal[] = [];
  for (const a of c?.adapters ?? []) {
    const scope = `${a.adapter}, packed library outside the repository`;
    const aa = `${(a.aaSpread * 100).toFixed(2)} % over ${a.rounds} rounds (A/A ratio ${pct(a.aa.ratio, 2)})`;
    goals.push({
      section: 'consumer',
      goal: 'A/A spread < 2 % (bare app against itself, CPU/request)',
      scope,
      measured: aa,
      met: thin ? null : a.aaSpread < AA_TARGET,
    });
    const cost = a.module.ratio - 1;
    goals.push({
      section: 'consumer',
      goal: 'the whole module (forRoot, every default on) ≤ 3 % of a bare app, CPU/request',
      scope,
      measured: `${pct(a.module.ratio)} [${pct(a.module.low)} … ${pct(a.module.high)}], A/A spread ±${(a.aaSpread * 100).toFixed(1)} %: ${a.module.verdict}`,
      met: thin || !Number.isFinite(cost) ? null : cost <= 0.03,
    });
    const own = a.instrumentation;
    if (own)
      goals.push({
        section: 'consumer',
        goal: "the module's instrumentation alone (against a bare app given the same request/response classes) ≤ 3 %, CPU/request",
        scope,
        measured: `${pct(own.ratio)} [${pct(own.low)} … ${pct(own.high)}], A/A spread ±${(a.aaSpread * 100).toFixed(1)} %: ${own.verdict}`,
        met: thin || !Number.isFinite(own.ratio) ? null : own.ratio - 1 <= 0.03,
      });
  }
  return goals;
}

export function evaluateGoals(r: Results): Goal[] {
  const goals: Goal[] = consumerGoals(r.consumer, r.mode === 'smoke');
  const overhead = r.overhead;
  for (const adapter of r.options.adapters) {
    const thin = r.mode === 'smoke';
    for (const stack of ['ours-on', 'ours-prom-client']) {
      const ours = overhead?.variants.find((v) => v.id === `${adapter}/${stack}`);
      const ratios = ours?.summary.vsBaseline;
      if (!ours || !ratios) continue;
      const scope = stack === 'ours-on' ? adapter : `${adapter}, before the fix (prom-client recording)`;
      const loss = Math.max(ratios.cpuPerRequest - 1, 1 - ratios.rps);
      goals.push({
        section: '1',
        goal: 'throughput loss ≤ 3 % (CPU per request and req/s vs METRICS_ENABLED=false)',
        scope,
        measured: `CPU/req ${pct(ratios.cpuPerRequest)}, req/s ${pct(ratios.rps)}`,
        met: thin ? null : loss <= 0.03,
      });
      goals.push({
        section: '1',
        goal: 'p99 ≤ 5 % over baseline',
        scope,
        measured: `p99 ${pct(ratios.p99)}`,
        met: thin ? null : ratios.p99 <= 1.05,
      });
      const oursVsBare = ours.summary.vsReference?.cpuPerRequest;
      const peers = overhead!.variants.filter((v) => v.adapter === adapter && !v.stack.startsWith('ours') && v.stack !== 'bare');
      if (oursVsBare !== undefined && peers.length > 0) {
        const best = peers.reduce((a, b) =>
          (a.summary.vsBaseline?.cpuPerRequest ?? 9) <= (b.summary.vsBaseline?.cpuPerRequest ?? 9) ? a : b,
        );
        goals.push({
          section: '1',
          goal: 'overhead lower than every peer (CPU/req vs the bare app)',
          scope,
          measured: `ours ${pct(oursVsBare)}; cheapest peer ${best.stack} ${pct(best.summary.vsBaseline?.cpuPerRequest)}`,
          met: thin ? null : peers.every((p) => oursVsBare < (p.summary.vsBaseline?.cpuPerRequest ?? Number.POSITIVE_INFINITY)),
        });
      }
    }
    const api = r.users?.variants.find((v) => v.adapter === adapter && v.metricsEnabled);
    if (api?.summary.vsBaseline) {
      const a = api.summary.vsBaseline;
      const off = r.users?.variants.find((v) => v.id === `${adapter}/api-metrics-off`)?.summary.samples ?? [];
      const again = r.users?.variants.find((v) => v.id === `${adapter}/api-metrics-off-again`)?.summary.samples ?? [];
      const byRound = (samples: typeof off) => off.map((o) => samples.find((s) => s.round === o.round)?.cpuUsPerRequest ?? Number.NaN);
      const base = off.map((o) => o.cpuUsPerRequest);
      const spreadAA = again.length > 0 ? aaSpread(pairedRatios(byRound(again), base)) : Number.NaN;
      const verdict = compareWithAA(pairedRatios(byRound(api.summary.samples), base), spreadAA).verdict;
      goals.push({
        section: '1',
        goal: 'metrics on within 3 % of off on GET /users/:id (real API, PostgreSQL), beyond the A/A spread',
        scope: adapter,
        measured: `CPU/req ${pct(a.cpuPerRequest)}, req/s ${pct(a.rps)}, p99 ${pct(a.p99)}; A/A spread ±${(spreadAA * 100).toFixed(1)} %: ${verdict}`,
        // Met when the difference is within 3 % and the run could tell 3 % apart (its A/A spread is below it).
        met: thin ? null : Math.max(a.cpuPerRequest - 1, 1 - a.rps) <= 0.03 && spreadAA < 0.03,
      });
    }
  }
  goals.push(...growthGoals(r.growth, r.mode === 'smoke'));
  for (const sc of r.scrape ?? []) {
    const points = sc.points;
    const scope = `${sc.adapter}, ${sc.stack === 'ours-on' ? 'ours' : 'before the fix (prom-client recording)'}`;
    const at10k = points.find((p) => p.series >= 10_000 && p.series < 20_000);
    if (at10k) {
      goals.push({
        section: '2',
        goal: 'render 10k series in < 20 ms',
        scope,
        measured: `${num(at10k.renderMs, 1)} ms for ${num(at10k.series)} series`,
        met: at10k.renderMs < 20,
      });
    }
    const perSeries = points.map((p) => p.renderMs / p.series);
    const growth = perSeries.length >= 2 ? perSeries.at(-1)! / perSeries[perSeries.length >= 3 ? 1 : 0] : Number.NaN;
    goals.push({
      section: '2',
      goal: 'render time grows linearly with series',
      scope,
      measured: `R² ${sc.fit.r2.toFixed(3)}, ${num(sc.fit.msPerThousandSeries, 2)} ms per 1k series; per-series cost at the largest size ${pct(growth, 0)} vs 10k`,
      // Smoke runs render without warm-up: too noisy to judge a slope.
      met: points.length < 3 || r.mode === 'smoke' ? null : sc.fit.r2 >= 0.98 && growth <= 1.3,
    });
  }
  if (r.hotpath) {
    goals.push({
      section: 'fix',
      goal: 'our HTTP recorder renders the same text as prom-client did',
      scope: 'AppMetrics',
      measured: r.hotpath.equivalence.detail,
      met: r.hotpath.equivalence.identical,
    });
  }
  for (const a of r.users?.malformed ?? []) {
    const killer = a.requests.find((q) => !q.aliveAfter);
    goals.push({
      section: '3',
      goal: 'no request fails: the real API (PostgreSQL, metrics on) survives malformed percent-encoding',
      scope: `${a.adapter}, apps/api`,
      measured: killer
        ? `API DIED on GET ${killer.path} (answered ${killer.status}): ${
            a.crash
              ?.split('\n')
              .find((l) => /Error/.test(l))
              ?.trim() ?? ''
          }`
        : `${a.requests.map((q) => `${q.path} → ${q.status}`).join(', ')}; still alive; counted in http_requests_total: ${a.counted ?? '?'} of ${a.requests.length}`,
      met: killer === undefined,
    });
  }
  for (const c of r.flood?.crashes ?? []) {
    const cause = c.stderr.split('\n').find((l) => /Error/.test(l)) ?? 'see stderr';
    goals.push({
      section: '3',
      goal: 'no request fails',
      scope: `${c.adapter}${c.percentEncoding ? '' : " (no '%')"}`,
      measured: `server CRASHED after ${num(c.afterResponses)} responses: ${cause.trim()}`,
      met: false,
    });
  }
  for (const f of r.flood?.runs ?? []) {
    const enough = f.requests >= 200_000;
    const scope = `${f.adapter}${f.percentEncoding ? '' : " (no '%', after the crash)"}`;
    goals.push({
      section: '3',
      goal: 'no request fails (no socket error, no 5xx, every request answered)',
      scope,
      measured: `${num(f.wrk.responses)} of ${num(f.requests)} answered; socket errors ${f.failures.socket}, 5xx ${f.failures.serverErrors}`,
      met: f.failures.socket === 0 && f.failures.serverErrors === 0 && f.wrk.responses >= f.requests,
    });
    goals.push({
      section: '3',
      goal: 'every answered request is counted (accuracy check, not in the issue)',
      scope,
      measured: `http_requests_total +${num(f.countedByMetrics)} for ${num(f.wrk.responses)} responses (+ up to ${r.options.connections} in flight when wrk stopped)`,
      met: f.countedByMetrics >= f.wrk.responses && f.countedByMetrics <= f.wrk.responses + r.options.connections,
    });
    const labelSets = f.labelSets.length;
    goals.push({
      section: '3',
      goal: `series stay bounded (≤ ${f.bound.labelSets} HTTP label sets)`,
      scope,
      measured: `series ${f.before.series} → ${f.after.series}; ${labelSets} HTTP label sets`,
      met: labelSets <= f.bound.labelSets && f.after.series - f.before.series <= f.bound.samples,
    });
    const heapGrowth = f.after.heapUsedGcBytes - f.before.heapUsedGcBytes;
    goals.push({
      section: '3',
      goal: 'memory stays flat (RSS slope over the 2nd half < 1 MiB per 100k requests, live heap growth < 5 MiB)',
      scope,
      measured: `RSS ${mib(f.before.rssBytes)} → ${mib(f.after.rssBytes)} MiB, slope ${mib(f.rssSlopePer100k)} MiB/100k; live heap ${mib(f.before.heapUsedGcBytes)} → ${mib(f.after.heapUsedGcBytes)} MiB`,
      met: enough ? f.rssSlopePer100k < 2 ** 20 && heapGrowth < 5 * 2 ** 20 : null,
    });
  }
  return goals;
}

function ratioCells(r: Ratios | undefined): string[] {
  return [pct(r?.cpuPerRequest), pct(r?.rps), pct(r?.p50), pct(r?.p99)];
}

/** The columns both load tables (trivial route, real API) share, and their cells. */
const MEASURE_HEADER = ['req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'CPU/req vs base', 'req/s vs base', 'p50 vs base', 'p99 vs base'];

function measureCells(s: OverheadResult['variants'][number]['summary']): string[] {
  return [num(s.median.rps), num(s.median.p50Ms, 2), num(s.median.p99Ms, 2), num(s.median.cpuUsPerRequest, 1), ...ratioCells(s.vsBaseline)];
}

const spreadCell = (s: OverheadResult['variants'][number]['summary']) => `${(s.spread.cpuPerRequest * 100).toFixed(0)} %`;

/** Columns whose cells are all figures are right-aligned; text columns stay left. */
function table(header: string[], rows: string[][]): string {
  const figure = /^([−+\-–]|\d|$)/;
  const align = header.map((_, i) => (i > 0 && rows.every((row) => figure.test(row[i] ?? '')) ? '---:' : '---'));
  return [`| ${header.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

export function markdown(r: Results): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`### Run of ${r.startedAt.slice(0, 10)} (${r.mode} mode, ${Math.round(r.seconds / 60)} min)`);
  out.push('');
  out.push(
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}; Node ${m.node}; load generator ${m.loadGenerator}; ` +
      `load average at start ${m.loadAverageAtStart.join(' / ')}. Servers on core ${r.options.serverCpu}, wrk on core ${r.options.loadCpu}; ` +
      `${r.options.connections} connections; ${r.options.rounds} interleaved rounds of ${r.options.seconds} s after ${r.options.warmupSeconds} s of warm-up per variant; seed ${r.options.seed}.`,
  );
  out.push('');
  out.push(
    `Packages: ${Object.entries(m.packages)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
  );
  out.push('');
  if (r.errors.length > 0) {
    out.push('**Sections that failed:**');
    for (const e of r.errors) out.push(`- ${e.section}: ${e.error.split('\n')[0]}`);
    out.push('');
  }
  out.push('#### Goals');
  out.push('');
  out.push(
    table(
      ['section', 'goal', 'scope', 'measured', 'met'],
      r.goals.map((g) => [g.section, g.goal, g.scope, g.measured, yes(g.met)]),
    ),
  );
  out.push('');
  if (r.consumer) {
    out.push('#### 0. The packed library in an app outside the repository (`GET /bench/:id`)');
    out.push('');
    out.push(
      `\`npm pack\` of the library (${r.consumer.tarball}) installed into a fresh Nest app in a temporary directory; the module arm is \`${r.consumer.options}\`. ` +
        `Three arms per adapter: the bare app, the bare app again (A/A) and the module, a fresh process each every round; within a round ${r.consumer.adapters[0]?.method === undefined ? 'the arms take turns in one-second slices, the order reversed every slice' : `every arm is paused (SIGSTOP) with its own wrk connected and the arms run one at a time (${r.consumer.adapters[0].method}, the order shuffled every cycle); an arm's CPU/request is the CPU its process used over the rotation divided by the responses its wrk received`}. ` +
        "Express has a fourth, `bare-classes`: the bare app whose server creates requests and responses with Express' prototypes, as the module's does, so that the instrumentation's own cost is measured too. " +
        'CPU/req ratios are paired round by round against `bare`, median with its ~95 % interval; a difference inside the A/A spread reads "no difference".',
    );
    out.push('');
    const rows = r.consumer.adapters.flatMap((a) =>
      a.arms.map((arm) => {
        const c = arm.id === 'module' ? a.module : arm.id === 'bare-again' ? a.aa : undefined;
        const own =
          arm.id === 'module' && a.instrumentation
            ? `; vs bare-classes ${pct(a.instrumentation.ratio)} [${pct(a.instrumentation.low)} … ${pct(a.instrumentation.high)}]`
            : '';
        return [
          a.adapter,
          arm.id,
          num(arm.cpuUsPerRequest, 1),
          num(arm.rps),
          c ? `${pct(c.ratio)} [${pct(c.low)} … ${pct(c.high)}]${own}` : '',
          `±${(a.aaSpread * 100).toFixed(1)} %`,
          c?.verdict ?? '',
          mib(arm.idleRssBytes),
          mib(arm.loadedRssBytes),
          String(a.rounds),
        ];
      }),
    );
    out.push(
      table(
        ['adapter', 'arm', 'CPU µs/req', 'req/s', 'CPU/req vs bare', 'A/A spread', 'verdict', 'RSS idle MiB', 'RSS loaded MiB', 'rounds'],
        rows,
      ),
    );
    out.push('');
  }
  if (r.overhead) {
    out.push(`#### 1. Request overhead, \`${r.overhead.route}\` (medians over rounds)`);
    out.push('');
    out.push(
      'Ratios are taken round by round against the baseline measured in the same round, then the median is kept. ' +
        'Baseline: ours-on and ours-prom-client against ours-off (METRICS_ENABLED=false), every other row against the bare app. ' +
        '"ours vs bare" puts ours on the same footing as the peers. CPU/req is the headline: the server\'s own CPU time per request, immune to CPU stolen by other processes.',
    );
    out.push('');
    for (const adapter of r.options.adapters) {
      const rows = r.overhead.variants
        .filter((v) => v.adapter === adapter)
        .map((v) => {
          const s = v.summary;
          return [
            `${v.stack}${v.stack === 'bare' ? '' : ` (${v.label})`}`,
            ...measureCells(s),
            s.vsReference ? pct(s.vsReference.cpuPerRequest) : '',
            spreadCell(s),
          ];
        });
      out.push(`**${adapter}**`);
      out.push('');
      out.push(table(['variant', ...MEASURE_HEADER, 'ours vs bare (CPU/req)', 'CPU/req spread'], rows));
      out.push('');
    }
  }
  if (r.users) {
    out.push(`#### 1b. Real API, \`${r.users.route}\``);
    out.push('');
    out.push(
      `${r.users.database}; LOG_LEVEL=warn (no access log), NODE_ENV=production. Baseline: the same API with METRICS_ENABLED=false, and again (A/A). ` +
        'Fresh processes every round, taking turns in quanta while the others are paused, so latencies are not measured (–).',
    );
    out.push('');
    out.push(
      table(
        ['variant', ...MEASURE_HEADER, 'CPU/req spread'],
        r.users.variants.map((v) => [v.id, ...measureCells(v.summary), spreadCell(v.summary)]),
      ),
    );
    out.push('');
  }
  if (r.growth) {
    out.push(growthMarkdown(r.growth));
    out.push('');
  }
  for (const s of r.scrape ?? []) {
    out.push(`#### 2. Scrape cost (${s.adapter}, ${s.stack === 'ours-on' ? 'ours' : 'ours before the fix, prom-client recording'})`);
    out.push('');
    out.push(
      `Render = \`AppMetrics.render()\` in the server, median of 7. Event-loop delay: max seen by \`monitorEventLoopDelay\` during ${r.options.seconds} s of load on /bench/:id, ` +
        `without scrapes and with a scrape every ${r.options.scrapeIntervalMs} ms. Fit: ${num(s.fit.msPerThousandSeries, 2)} ms per 1k series + ${num(s.fit.interceptMs, 2)} ms, R² ${s.fit.r2.toFixed(3)}.`,
    );
    out.push('');
    out.push(
      table(
        [
          'series',
          'bytes',
          'render ms',
          'µs/series',
          'GET /metrics ms',
          'RSS MiB',
          'loop delay max ms (no scrape → scrapes)',
          'wrk p99 ms (no scrape → scrapes)',
          'wrk max ms',
          'req/s',
        ],
        s.points.map((p) => [
          num(p.series),
          num(p.bytes),
          num(p.renderMs, 1),
          num((p.renderMs / p.series) * 1000, 2),
          num(p.httpMs, 1),
          mib(p.rssBytes),
          `${num(p.withoutScrapes.eventLoop.maxMs, 1)} → ${num(p.withScrapes.eventLoop.maxMs, 1)}`,
          `${num(p.withoutScrapes.p99Ms, 2)} → ${num(p.withScrapes.p99Ms, 2)}`,
          `${num(p.withoutScrapes.maxMs, 1)} → ${num(p.withScrapes.maxMs, 1)}`,
          `${num(p.withoutScrapes.rps)} → ${num(p.withScrapes.rps)}`,
        ]),
      ),
    );
    out.push('');
  }
  if (r.flood) {
    const runs = r.flood.runs;
    out.push('#### 3. Cardinality attack');
    out.push('');
    out.push(
      'Random methods (GET POST PUT PATCH DELETE OPTIONS and 11 WebDAV/other verbs), random paths (1–5 random segments, /bench/<random>, /users/<random>, /metrics/<random>, /health/<random>), ' +
        'random query strings on half of them and random JSON bodies on POST/PUT/PATCH; never the same request twice. Bound: methods (7 known + OTHER) × routes (/bench/:id + UNMATCHED) × status codes answered, 15 samples each.',
    );
    out.push('');
    out.push(
      table(
        [
          'adapter',
          'responses',
          'req/s',
          'statuses',
          'counted',
          'socket errors / 5xx',
          'series before → after',
          'HTTP label sets (bound)',
          'RSS MiB before → after',
          'live heap MiB before → after',
          'RSS slope, 2nd half',
        ],
        runs.map((f) => [
          `${f.adapter}${f.percentEncoding ? '' : " (no '%')"}`,
          num(f.wrk.responses),
          num(f.wrk.responses / f.seconds),
          Object.entries(f.wrk.statuses)
            .map(([k, v]) => `${k}: ${num(v)}`)
            .join(', '),
          num(f.countedByMetrics),
          `${f.failures.socket} / ${f.failures.serverErrors}`,
          `${f.before.series} → ${f.after.series}`,
          `${f.labelSets.length} (≤ ${f.bound.labelSets})`,
          `${mib(f.before.rssBytes)} → ${mib(f.after.rssBytes)}`,
          `${mib(f.before.heapUsedGcBytes)} → ${mib(f.after.heapUsedGcBytes)}`,
          `${mib(f.rssSlopePer100k)} MiB / 100k req`,
        ]),
      ),
    );
    out.push('');
    for (const c of r.flood.crashes) {
      out.push(`**${c.adapter}: the server crashed after ${num(c.afterResponses)} responses** (${c.seconds.toFixed(0)} s). Its stderr:`);
      out.push('');
      out.push('```');
      out.push(c.stderr);
      out.push('```');
      out.push('');
    }
    for (const f of runs) {
      const step = Math.max(1, Math.floor(f.samples.length / 10));
      const picks = f.samples.filter((_, i) => i % step === 0 || i === f.samples.length - 1);
      out.push(
        `RSS over time, ${f.adapter} (s: MiB${picks.some((p) => p.series !== undefined) ? ', series' : ''}): ${picks.map((p) => `${p.t.toFixed(0)}: ${mib(p.rssBytes)}${p.series !== undefined ? ` (${p.series})` : ''}`).join(' · ')}`,
      );
      out.push('');
      out.push(`Label sets after the flood (${f.adapter}): ${f.labelSets.map((l) => `\`${l}\``).join(', ')}`);
      out.push('');
    }
  }
  if (r.overhead || r.users) {
    out.push('#### 4. Memory');
    out.push('');
    const rows: string[][] = [];
    for (const v of r.overhead?.variants ?? []) {
      rows.push([
        `bench ${v.id}`,
        mib(v.atRest.rssBytes),
        mib(v.atRest.heapUsedBytes),
        mib(v.summary.median.rssBytes),
        mib(v.summary.median.heapUsedBytes),
        '–',
      ]);
    }
    for (const v of r.users?.variants ?? []) {
      rows.push([
        `API ${v.id}`,
        mib(v.atRest.rssBytes),
        mib(v.atRest.heapUsedBytes),
        mib(v.summary.median.rssBytes),
        mib(v.summary.median.heapUsedBytes),
        mib(v.afterLoad.rssBytes),
      ]);
    }
    out.push('At rest: after start-up and one request, before any load. Under load: read half-way through each round, median.');
    out.push('');
    out.push(
      table(
        ['process', 'RSS at rest MiB', 'heap used at rest MiB', 'RSS under load MiB', 'heap used under load MiB', 'RSS after load MiB'],
        rows,
      ),
    );
    out.push('');
  }
  if (r.profile) {
    out.push('#### CPU profiles (ours, trivial route)');
    out.push('');
    out.push(
      'Sampled every 250 µs under the same load; "under ours" = share of busy samples with a packages/observability frame on the stack (includes the Node and prom-client code it calls). ' +
        'µs/req figures are shares of the CPU per request measured while profiling (the profiler itself adds some).',
    );
    out.push('');
    out.push(
      table(
        ['server', 'CPU µs/req', 'under ours', 'µs/req under ours', 'biggest self time under ours'],
        r.profile.map((p) => [
          p.id,
          num(p.cpuUsPerRequest, 1),
          `${(p.instrumentationShare * 100).toFixed(1)} %`,
          num(p.instrumentationUsPerRequest, 2),
          p.underInstrumentation
            .slice(0, 6)
            .map((f) => `${f.fn} (${f.where}) ${num(f.usPerRequest, 2)}`)
            .join('; '),
        ]),
      ),
    );
    out.push('');
  }
  if (r.hotpath) {
    const h = r.hotpath;
    out.push('#### Hot-path fix in isolation (bench/src/hotpath): prom-client recording (before) vs ours');
    out.push('');
    out.push(
      `${h.equivalence.identical ? 'Same exposition as prom-client' : 'DIFFERENT exposition'}: ${h.equivalence.detail}. ` +
        `One HTTP observation: **${num(h.nsPerObservation.before)} ns with prom-client → ${num(h.nsPerObservation.ours)} ns ours** (median of 8 × 1M-observation runs, pinned core).`,
    );
    out.push('');
    out.push(
      table(
        ['HTTP samples', 'render ms prom-client', 'render ms ours'],
        h.render.map((x) => [num(x.samples), num(x.beforeMs, 2), num(x.oursMs, 2)]),
      ),
    );
    out.push('');
  }
  return out.join('\n');
}

export const START = '<!-- bench:results:start -->';
export const END = '<!-- bench:results:end -->';

/** Replaces the generated block of BENCHMARKS.md, keeping the hand-written text around it. */
export function spliceMarkdown(existing: string | undefined, generated: string, resultFile: string): string {
  const block = `${START}\n<!-- Generated by \`npm run bench\` from ${resultFile}; edits inside this block are overwritten. -->\n\n${generated}\n${END}`;
  if (existing?.includes(START) && existing.includes(END)) {
    return existing.slice(0, existing.indexOf(START)) + block + existing.slice(existing.indexOf(END) + END.length);
  }
  return `# Benchmarks\n\n${block}\n`;
}
