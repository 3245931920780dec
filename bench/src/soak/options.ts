/** Command line of `npm run soak`. */

export type Adapter = 'express' | 'fastify';

export interface SoakOptions {
  readonly minutes: number;
  readonly adapter: Adapter;
  /** The machine's PostgreSQL and Redis instead of the embedded database and in-process queue. */
  readonly real: boolean;
  readonly postgresUrl: string;
  readonly redisUrl: string;
  /** HTTP requests per second the generator aims at (the /metrics scrapes come on top). */
  readonly rate: number;
  /** Most requests in flight at once; past it the generator skips a slot and counts it. */
  readonly maxInFlight: number;
  /** Socket.IO clients kept connected while they are replaced one by one. */
  readonly sockets: number;
  /** Socket.IO clients replaced per second. */
  readonly churnPerSecond: number;
  /** Seconds between printed samples; default scales with the duration (10 s from 2 min up). */
  readonly sampleSeconds: number;
  readonly apiCpu: string;
  readonly loadCpu: string;
  /** Verdict thresholds: growth of the last third's mean over the middle third's. */
  readonly maxRssGrowth: number;
  readonly maxHeapGrowth: number;
  /** Where the result file goes (default bench/results). */
  readonly outDir: string | undefined;
}

const USAGE = `npm run soak -- [options]

  --minutes N          duration (default 10; 0.5 for a quick check)
  --adapter A          express (default) or fastify
  --real               the machine's PostgreSQL and Redis instead of the embedded backends: a temporary
                       database on SOAK_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test),
                       dropped at the end, and a unique QUEUE_PREFIX on SOAK_REDIS_URL
                       (default redis://127.0.0.1:6379), deleted at the end
  --rate N             HTTP requests per second (default 200, about two thirds of what
                       one core serves with the embedded database)
  --max-in-flight N    concurrent requests cap (default 64)
  --sockets N          Socket.IO clients kept open (default 20)
  --churn N            Socket.IO clients replaced per second (default 10)
  --sample S           seconds between sample lines (default: duration / 12, between 1 and 10)
  --api-cpu C          core of the API (taskset -c, default 0)
  --load-cpu C         core of this load generator (default 1)
  --max-rss-growth P   verdict threshold in percent (default 10)
  --max-heap-growth P  verdict threshold in percent (default 10)
  --out DIR            result directory (default bench/results)
`;

function positive(flag: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${flag}: expected a positive number, got ${text}\n\n${USAGE}`);
  return value;
}

export function parseSoakOptions(argv: readonly string[]): SoakOptions | 'help' {
  let minutes = 10;
  let adapter: Adapter = 'express';
  let real = false;
  let rate = 200;
  let maxInFlight = 64;
  let sockets = 20;
  let churnPerSecond = 10;
  let sampleSeconds: number | undefined;
  let apiCpu = '0';
  let loadCpu = '1';
  let maxRssGrowth = 0.1;
  let maxHeapGrowth = 0.1;
  let outDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = () => {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${flag} needs a value\n\n${USAGE}`);
      return value;
    };
    switch (flag) {
      case '--help':
      case '-h':
        return 'help';
      case '--minutes':
        minutes = positive(flag, next());
        break;
      case '--adapter': {
        const value = next();
        if (value !== 'express' && value !== 'fastify') throw new Error(`--adapter: express or fastify, got ${value}`);
        adapter = value;
        break;
      }
      case '--real':
        real = true;
        break;
      case '--rate':
        rate = positive(flag, next());
        break;
      case '--max-in-flight':
        maxInFlight = Math.ceil(positive(flag, next()));
        break;
      case '--sockets':
        sockets = Math.ceil(positive(flag, next()));
        break;
      case '--churn':
        churnPerSecond = positive(flag, next());
        break;
      case '--sample':
        sampleSeconds = positive(flag, next());
        break;
      case '--api-cpu':
        apiCpu = next();
        break;
      case '--load-cpu':
        loadCpu = next();
        break;
      case '--max-rss-growth':
        maxRssGrowth = positive(flag, next()) / 100;
        break;
      case '--max-heap-growth':
        maxHeapGrowth = positive(flag, next()) / 100;
        break;
      case '--out':
        outDir = next();
        break;
      default:
        throw new Error(`unknown option ${flag}\n\n${USAGE}`);
    }
  }
  // At least a dozen samples, so each third the verdict compares holds four or more.
  const defaultSample = Math.min(10, Math.max(1, (minutes * 60) / 12));
  return {
    minutes,
    adapter,
    real,
    postgresUrl: process.env.SOAK_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    redisUrl: process.env.SOAK_REDIS_URL ?? 'redis://127.0.0.1:6379',
    rate,
    maxInFlight,
    sockets,
    churnPerSecond,
    sampleSeconds: sampleSeconds ?? defaultSample,
    apiCpu,
    loadCpu,
    maxRssGrowth,
    maxHeapGrowth,
    outDir,
  };
}

export { USAGE };
