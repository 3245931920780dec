/**
 * What a bench run records: the result of every section, as written to the result file and read
 * by the report. Data only (no import of a server, a load generator or a peer library), so that the
 * report and its tests compile on their own (bench/tsconfig.unit.json).
 */
import type { Adapter, Stack } from './variants.js';

// The load generator (wrk)
export interface WrkErrors {
  connect: number;
  read: number;
  write: number;
  /** Responses with a status >= 400. */
  status: number;
  timeout: number;
}

export interface WrkResult {
  requests: number;
  durationUs: number;
  bytes: number;
  errors: WrkErrors;
  latencyUs: { min: number; max: number; mean: number; stdev: number; p50: number; p90: number; p99: number; p999: number };
}

export interface FloodResult {
  responses: number;
  requests: number;
  durationUs: number;
  statuses: Record<string, number>;
  errors: WrkErrors;
  latencyUs: { p50: number; p99: number; max: number };
}

// Interleaved rounds, and ratios against a baseline
export interface RoundSample {
  readonly round: number;
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Server CPU time (user + system, all threads) per request, in microseconds. */
  readonly cpuUsPerRequest: number;
  /** Share of one core the server used during the round. */
  readonly cpuShare: number;
  readonly rssBytes: number;
  /** Resident set size once started, before any load (rotated rounds only). */
  readonly idleRssBytes?: number;
  readonly heapUsedBytes: number;
  readonly errors: number;
}

export interface Medians {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  rssBytes: number;
  heapUsedBytes: number;
}

export interface Ratios {
  /** Median over rounds of (this / baseline) measured in the same round. >1 means more CPU per request. */
  cpuPerRequest: number;
  /** <1 means fewer requests per second. */
  rps: number;
  p50: number;
  p99: number;
}

export interface TargetSummary {
  readonly id: string;
  readonly baseline: string;
  readonly reference: string | undefined;
  readonly samples: RoundSample[];
  readonly median: Medians;
  /** Round-to-round spread ((max - min) / median) of CPU per request and of requests per second. */
  readonly spread: { cpuPerRequest: number; rps: number };
  vsBaseline?: Ratios;
  vsReference?: Ratios;
  readonly warmup?: { requests: number; errors: number };
}

// The machine
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  loadGenerator: string;
  loadAverageAtStart: number[];
  packages: Record<string, string>;
}

// Section 1: instrumentation overhead
export interface MemoryReading {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
}

export interface OverheadVariantResult {
  readonly id: string;
  readonly adapter: string;
  readonly stack: string;
  readonly label: string;
  readonly validated: string;
  readonly atRest: MemoryReading;
  readonly summary: TargetSummary;
}

export interface OverheadResult {
  readonly route: string;
  readonly variants: OverheadVariantResult[];
}

// Section 1 and 3 on the real API
export interface ApiVariantResult {
  readonly id: string;
  readonly adapter: Adapter;
  readonly metricsEnabled: boolean;
  readonly atRest: MemoryReading;
  /** After the rounds, idle again. */
  readonly afterLoad: MemoryReading;
  readonly summary: TargetSummary;
}

export interface ApiProbe {
  readonly adapter: Adapter;
  readonly requests: { path: string; status: number | string; aliveAfter: boolean }[];
  /** Increase of http_requests_total over these requests (when the API survived). */
  readonly counted?: number;
  /** First lines of the API's stderr when it died. */
  readonly crash?: string;
}

export interface UsersResult {
  readonly route: string;
  readonly database: string;
  readonly environment: Record<string, string>;
  readonly variants: ApiVariantResult[];
  /** Section 3 on the real API: malformed percent-encoding, one request at a time. */
  readonly malformed: ApiProbe[];
}

// Growth: cost per request as the data grows
export interface GrowthBatch {
  readonly round: number;
  /** Users in the database when the batch started (seeded plus created by earlier batches). */
  readonly users: number;
  /** CPU of the API process per request, ms: POST /users, GET /users/:id, GET /metrics. */
  readonly signupCpuMs: number;
  readonly readCpuMs: number;
  readonly scrapeCpuMs: number;
  /** GET /users?limit=100, the first page. */
  readonly listCpuMs: number;
  /** PostgreSQL only: CPU of the server backends serving this API's pool, per request, ms. */
  readonly signupDbCpuMs?: number;
  readonly readDbCpuMs?: number;
  readonly scrapeDbCpuMs?: number;
  readonly listDbCpuMs?: number;
  /** API RSS right after the batch. */
  readonly rssBytes: number;
}

export interface GrowthPoint {
  /** '1k', '1k-again' (the A/A copy), '20k', '100k'. */
  readonly id: string;
  readonly seeded: number;
  readonly seedSeconds: number;
  readonly usersAtEnd: number;
  /** After start-up, before any request. */
  readonly atRest: MemoryReading;
  readonly batches: GrowthBatch[];
  /** `<table>.bytes|live|dead` after the run (pg_total_relation_size, pg_stat_user_tables). */
  readonly relations: Record<string, number>;
}

export interface GrowthBackend {
  readonly backend: 'pglite' | 'postgres';
  readonly description: string;
  readonly points: GrowthPoint[];
}

export interface GrowthResult {
  readonly adapter: Adapter;
  readonly concurrency: number;
  readonly signupsPerBatch: number;
  readonly readsPerBatch: number;
  readonly scrapesPerBatch: number;
  readonly listsPerBatch: number;
  readonly warmupSignups: number;
  readonly rounds: number;
  readonly backends: GrowthBackend[];
}

// Section 2: scrape cost
export interface DelayStats {
  maxMs: number;
  p99Ms: number;
  p50Ms: number;
  meanMs: number;
}

export interface LoadWindow {
  /** Event-loop delay seen inside the server (monitorEventLoopDelay, 1 ms resolution). */
  eventLoop: DelayStats;
  rps: number;
  p99Ms: number;
  maxMs: number;
  scrapes: number;
}

export interface ScrapePoint {
  readonly series: number;
  readonly bytes: number;
  /** In-process `AppMetrics.render()` time, median of several. */
  readonly renderMs: number;
  readonly renderTimesMs: number[];
  /** GET /metrics seen by the client (render + Nest + socket), median. */
  readonly httpMs: number;
  readonly rssBytes: number;
  readonly withoutScrapes: LoadWindow;
  readonly withScrapes: LoadWindow;
}

export interface ScrapeResult {
  readonly adapter: Adapter;
  readonly stack: Stack;
  readonly points: ScrapePoint[];
  /** Least-squares fit of render time over series. */
  readonly fit: { msPerThousandSeries: number; interceptMs: number; r2: number };
}

// Section 3: a flood of random paths
export interface FloodSample {
  /** Seconds since the flood started. */
  readonly t: number;
  readonly rssBytes: number;
  readonly heapUsedBytes?: number;
  readonly series?: number;
}

export interface FloodAdapterResult {
  readonly adapter: Adapter;
  readonly requests: number;
  /** Whether random '%' (malformed percent-encoding) was part of the attack. */
  readonly percentEncoding: boolean;
  readonly seconds: number;
  readonly before: { series: number; httpSeries: number; rssBytes: number; heapUsedGcBytes: number };
  readonly after: { series: number; httpSeries: number; rssBytes: number; heapUsedGcBytes: number };
  /** Distinct (method, route, status_code) label sets of http_requests_total after the flood. */
  readonly labelSets: string[];
  /** Upper bound of HTTP label sets this server can produce (see BENCHMARKS.md). */
  readonly bound: { methods: number; routes: number; statusCodes: number; labelSets: number; samples: number };
  readonly samples: FloodSample[];
  readonly wrk: FloodResult;
  readonly failures: { socket: number; serverErrors: number };
  /** Increase of http_requests_total over the attack: responses the metrics saw. */
  readonly countedByMetrics: number;
  /** Growth of RSS over the second half of the flood, in bytes per 100k requests (≈0 means flat). */
  readonly rssSlopePer100k: number;
}

export interface FloodCrash {
  readonly adapter: Adapter;
  readonly afterResponses: number;
  readonly seconds: number;
  readonly percentEncoding: boolean;
  /** First lines of the server's stderr. */
  readonly stderr: string;
}

export interface FloodSectionResult {
  readonly runs: FloodAdapterResult[];
  /** Servers that died under the attack; the attack is then repeated without '%' so the other goals are still measured. */
  readonly crashes: FloodCrash[];
}

// CPU profiles
export interface FunctionCost {
  readonly fn: string;
  readonly where: string;
  /** Share of non-idle samples. */
  readonly share: number;
  readonly usPerRequest: number;
}

export interface ProfileSummary {
  readonly id: string;
  readonly file: string;
  readonly requests: number;
  readonly cpuUsPerRequest: number;
  readonly samples: number;
  /** Self time by package, share of non-idle samples. */
  readonly byPackage: Record<string, number>;
  /** Share of non-idle samples spent in our hooks and the Node / prom-client code they call. */
  readonly instrumentationShare: number;
  readonly instrumentationUsPerRequest: number;
  /** Self time of the functions running under our frames, biggest first. */
  readonly underInstrumentation: FunctionCost[];
  /** Biggest self-time functions overall. */
  readonly top: FunctionCost[];
}

// The hot-path fix in isolation
export interface HotpathResult {
  equivalence: { identical: boolean; detail: string };
  nsPerObservation: { before: number; ours: number; beforeRuns: number[]; oursRuns: number[] };
  render: { samples: number; beforeMs: number; oursMs: number }[];
}

// The packed library in an app outside the repository (section `consumer`)
export interface ConsumerSample {
  readonly round: number;
  readonly requests: number;
  readonly cpuUsPerRequest: number;
  readonly rps: number;
  readonly rssBytes: number;
}

export interface ConsumerArm {
  readonly id: 'bare' | 'bare-again' | 'bare-classes' | 'module';
  readonly samples: readonly ConsumerSample[];
  readonly cpuUsPerRequest: number;
  readonly rps: number;
  readonly idleRssBytes: number;
  readonly loadedRssBytes: number;
}

export interface ConsumerComparison {
  /** Median of the per-round CPU/request ratios against `bare` of the same round, with its ~95 % interval. */
  readonly ratio: number;
  readonly low: number;
  readonly high: number;
  readonly verdict: 'no difference' | 'costlier' | 'cheaper';
}

export interface ConsumerAdapterResult {
  readonly adapter: 'express' | 'fastify';
  readonly rounds: number;
  /** How the arms shared the machine within a round (absent in results before the rotation). */
  readonly method?: string;
  readonly arms: readonly ConsumerArm[];
  /** A/A: `bare-again` against `bare`; the larger of its median offset and its interval half-width. */
  readonly aaSpread: number;
  readonly aa: ConsumerComparison;
  readonly module: ConsumerComparison;
  /**
   * Express only: the module against `bare-classes`, a bare app whose server creates requests and
   * responses with Express' prototypes as the module's does: the instrumentation's own cost.
   */
  readonly instrumentation?: ConsumerComparison;
}

export interface ConsumerResult {
  readonly tarball: string;
  readonly versions: Readonly<Record<string, string>>;
  readonly options: string;
  readonly adapters: readonly ConsumerAdapterResult[];
}
