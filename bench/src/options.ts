/** Command line of `npm run bench`: a mode preset, overridable flag by flag. */
import { ADAPTERS, type Adapter } from './variants.js';

export const SECTIONS = ['consumer', 'overhead', 'users', 'growth', 'scrape', 'flood', 'profile', 'hotpath'] as const;
export const GROWTH_BACKENDS = ['pglite', 'postgres'] as const;
export type GrowthBackendName = (typeof GROWTH_BACKENDS)[number];
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  readonly mode: 'smoke' | 'full';
  readonly sections: readonly Section[];
  readonly adapters: readonly Adapter[];
  /** Interleaved rounds per variant (overhead and users sections). */
  readonly rounds: number;
  /** Seconds of load per variant per round. */
  readonly seconds: number;
  /** Seconds of load per variant before the first round (JIT warm-up, not recorded). */
  readonly warmupSeconds: number;
  /** Open connections of the load generator. */
  readonly connections: number;
  /** Minimum interleaved rounds of the consumer section (up to twice as many while its A/A spread is ≥ 2 %). */
  readonly consumerRounds: number;
  /** Seconds of load per arm per consumer round. */
  readonly consumerSeconds: number;
  /** Requests of the cardinality attack, per adapter. */
  readonly floodRequests: number;
  /** Series counts of the scrape-cost section. */
  readonly scrapeSeries: readonly number[];
  /** How often /metrics is scraped while the scrape section measures the event-loop block. */
  readonly scrapeIntervalMs: number;
  /** Seconds of CPU profile per profiled server. */
  readonly profileSeconds: number;
  /** Users seeded per point of the growth section; the first is seeded and run twice (the A/A pair). */
  readonly growthPoints: readonly number[];
  readonly growthBackends: readonly GrowthBackendName[];
  /** Interleaved rounds of the growth section; each runs one batch of sign-ups, reads and scrapes per point. */
  readonly growthRounds: number;
  readonly growthSignups: number;
  readonly growthReads: number;
  /** Sign-ups (and ten times as many reads) per point before the first round (JIT warm-up). */
  readonly growthWarmupSignups: number;
  /** Core of the servers and core of the load generator (taskset -c). */
  readonly serverCpu: string;
  readonly loadCpu: string;
  readonly seed: number;
  /** Where results go (default bench/results). */
  readonly outDir: string | undefined;
  /** Write the tables into bench/BENCHMARKS.md (default: full mode only). */
  readonly writeMarkdown: boolean;
}

const PRESETS = {
  smoke: {
    rounds: 2,
    seconds: 1,
    warmupSeconds: 0,
    consumerRounds: 2,
    consumerSeconds: 1,
    floodRequests: 20_000,
    scrapeSeries: [1000, 10_000, 50_000],
    scrapeIntervalMs: 250,
    profileSeconds: 1,
    growthPoints: [200, 1000, 3000],
    growthRounds: 2,
    growthSignups: 20,
    growthReads: 100,
    growthWarmupSignups: 20,
  },
  full: {
    rounds: 5,
    seconds: 5,
    warmupSeconds: 3,
    consumerRounds: 10,
    consumerSeconds: 3,
    floodRequests: 1_000_000,
    scrapeSeries: [1000, 10_000, 50_000],
    scrapeIntervalMs: 1000,
    profileSeconds: 6,
    growthPoints: [1000, 20_000, 100_000],
    growthRounds: 8,
    growthSignups: 100,
    growthReads: 1000,
    growthWarmupSignups: 200,
  },
};

const USAGE = `npm run bench -- [--smoke] [options]

  --smoke                 quick validation run (< 2 min); results go to bench/results/<date>-smoke.*
  --only LIST             sections to run, comma-separated: ${SECTIONS.join(',')}
  --adapters LIST         express,fastify (default both)
  --rounds N              interleaved rounds per variant (full 5, smoke 2); the users section adds rounds, up to 3N, while its A/A spread is ≥ 2 %
  --duration S            seconds of load per variant per round (full 5, smoke 1)
  --warmup S              warm-up seconds per variant (full 3, smoke 0: none)
  --consumer-rounds N     minimum rounds of the consumer section, up to 3N while its A/A spread is ≥ 2 % (full 10, smoke 2)
  --consumer-duration S   seconds of load per arm per consumer round (full 3, smoke 1)
  --connections N         load generator connections (default 32)
  --requests N            cardinality-attack requests per adapter (full 1000000, smoke 20000)
  --series LIST           scrape-cost series counts (default 1000,10000,50000)
  --scrape-interval MS    scrape period while measuring the event-loop block (full 1000, smoke 250)
  --profile-seconds S     CPU profile length per server (full 6, smoke 1)
  --growth-points LIST    users seeded per growth point, the first run twice as the A/A pair (full 1000,20000,100000)
  --growth-backends LIST  pglite,postgres (default both)
  --growth-rounds N       interleaved growth rounds (full 8, smoke 2)
  --growth-batch S,G      sign-ups and reads per point per growth round (full 100,1000; smoke 20,100)
  --growth-warmup N       warm-up sign-ups (and 10× reads) per growth point (full 200, smoke 20)
  --server-cpu C          core of the servers (default 0)
  --load-cpu C            core of wrk (default 1)
  --seed N                seed of the round order (default: time)
  --out DIR               results directory (default bench/results)
  --markdown / --no-markdown   write bench/BENCHMARKS.md (default: full runs only)
  --rewrite FILE          only regenerate goals and tables (FILE.md, BENCHMARKS.md) from a result file
`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  const args = [...argv];
  const flag = (name: string) => {
    const i = args.indexOf(name);
    if (i < 0) return false;
    args.splice(i, 1);
    return true;
  };
  const value = (name: string) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value\n\n${USAGE}`);
    args.splice(i, 2);
    return v;
  };
  const num = (name: string, fallback: number) => {
    const v = value(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a number ≥ 0, got ${v}`);
    return n;
  };
  const list = (name: string) =>
    value(name)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);

  if (flag('--help') || flag('-h')) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const mode = flag('--smoke') ? 'smoke' : 'full';
  const preset = PRESETS[mode];
  const sections = (list('--only') ?? [...SECTIONS]) as Section[];
  for (const s of sections) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section ${s}\n\n${USAGE}`);
  const adapters = (list('--adapters') ?? [...ADAPTERS]) as Adapter[];
  for (const a of adapters) if (!ADAPTERS.includes(a)) throw new Error(`--adapters: unknown adapter ${a}`);
  const growthBackends = (list('--growth-backends') ?? [...GROWTH_BACKENDS]) as GrowthBackendName[];
  for (const b of growthBackends) if (!GROWTH_BACKENDS.includes(b)) throw new Error(`--growth-backends: unknown backend ${b}`);
  const growthPoints = list('--growth-points')?.map(Number) ?? preset.growthPoints;
  if (growthPoints.some((n, i) => !Number.isInteger(n) || n < 1 || (i > 0 && n <= growthPoints[i - 1])))
    throw new Error(`--growth-points: increasing positive integers, got ${growthPoints.join(',')}`);
  const batch = list('--growth-batch')?.map(Number) ?? [preset.growthSignups, preset.growthReads];
  if (batch.length !== 2 || batch.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`--growth-batch: two positive integers (sign-ups,reads), got ${batch.join(',')}`);
  const markdown = flag('--markdown') ? true : flag('--no-markdown') ? false : mode === 'full';
  const options: BenchOptions = {
    mode,
    sections,
    adapters,
    rounds: Math.round(num('--rounds', preset.rounds)),
    seconds: num('--duration', preset.seconds),
    warmupSeconds: num('--warmup', preset.warmupSeconds),
    connections: Math.round(num('--connections', 32)),
    consumerRounds: Math.max(1, Math.round(num('--consumer-rounds', preset.consumerRounds))),
    consumerSeconds: num('--consumer-duration', preset.consumerSeconds),
    floodRequests: Math.round(num('--requests', preset.floodRequests)),
    scrapeSeries: list('--series')?.map(Number) ?? preset.scrapeSeries,
    scrapeIntervalMs: num('--scrape-interval', preset.scrapeIntervalMs),
    profileSeconds: num('--profile-seconds', preset.profileSeconds),
    growthPoints,
    growthBackends,
    growthRounds: Math.max(1, Math.round(num('--growth-rounds', preset.growthRounds))),
    growthSignups: batch[0],
    growthReads: batch[1],
    growthWarmupSignups: Math.round(num('--growth-warmup', preset.growthWarmupSignups)),
    serverCpu: value('--server-cpu') ?? '0',
    loadCpu: value('--load-cpu') ?? '1',
    seed: Math.round(num('--seed', Date.now() % 1_000_000)),
    outDir: value('--out'),
    writeMarkdown: markdown,
  };
  if (args.length > 0) throw new Error(`unknown argument(s): ${args.join(' ')}\n\n${USAGE}`);
  return options;
}
