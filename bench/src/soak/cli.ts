/**
 * `npm run soak -- --minutes N`: the built API under steady mixed traffic (REST, intended 4xx,
 * random unmatched paths, a scrape every second, Socket.IO churn) for N minutes, one line per
 * sample period, then whether memory and series count level off. Exits non-zero when they do
 * not, or when anything failed. Writes bench/results/soak-<date>.json and .md.
 */
import { hostInfo } from '../machine.js';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { median } from '../lib/stats.js';
import { type Backends, canPin, embeddedBackends, pinSelf, realBackends, SoakApi } from './api.js';
import { readScrape, type Scrape } from './exposition.js';
import { condense, header, line, markdownTable, verdictLines } from './format.js';
import { parseSoakOptions, type SoakOptions, USAGE } from './options.js';
import { SocketChurn } from './sockets.js';
import { type KindStats, Traffic } from './traffic.js';
import { judge, SHORT_RUN_MINUTES, type Sample, type Verdict } from './verdict.js';

const BENCH_DIR = fileURLToPath(new URL('../../../', import.meta.url));
const REPO = join(BENCH_DIR, '..');
const MiB = 2 ** 20;

const machine = hostInfo;

const quantile = (sorted: readonly number[], q: number): number =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : Number.NaN;

/** Scrapes every second until stopped; a slow scrape delays the next rather than overlapping it. */
function scrapeLoop(traffic: Traffic, started: number, onScrape: (scrape: Scrape) => void): { stop(): Promise<void> } {
  let running = true;
  const done = (async () => {
    let next = performance.now();
    while (running) {
      const body = await traffic.scrape();
      if (body !== undefined) onScrape(readScrape(performance.now() - started, body));
      next += 1000;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      else next = performance.now();
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
    },
  };
}

interface Run {
  samples: Sample[];
  verdict: Verdict;
  result: Record<string, unknown>;
}

async function soak(options: SoakOptions, interrupted: () => boolean): Promise<Run> {
  const durationMs = options.minutes * 60_000;
  const pinned = cpus().length >= 2 && options.apiCpu !== options.loadCpu && canPin(options.apiCpu, options.loadCpu);
  if (pinned && !pinSelf(options.loadCpu)) throw new Error(`taskset could not move this process to core ${options.loadCpu}`);
  const pinning = pinned
    ? `API on core ${options.apiCpu}, load generator on core ${options.loadCpu} (taskset)`
    : 'not pinned (taskset missing or fewer than 2 cores)';
  const dataDir = await mkdtemp(join(tmpdir(), 'obsnest-soak-'));
  const metricsToken = randomBytes(24).toString('hex');
  let backends: Backends | undefined;
  let api: SoakApi | undefined;
  try {
    backends = options.real ? await realBackends(options.postgresUrl, options.redisUrl) : embeddedBackends();
    const startedAt = new Date();
    const loadAtStart = loadavg();
    api = await SoakApi.start({
      adapter: options.adapter,
      dataDir,
      backendEnv: backends.env,
      cpu: pinned ? options.apiCpu : undefined,
      metricsToken,
    });
    process.stdout.write(
      `soak: ${options.minutes} min, ${options.adapter}, ${backends.description}\n` +
        `      ${options.rate} req/s (≤ ${options.maxInFlight} in flight) + /metrics every second, ` +
        `${options.sockets} Socket.IO clients replaced at ${options.churnPerSecond}/s; ${pinning}; ` +
        `a sample every ${options.sampleSeconds} s\n\n${header()}\n`,
    );

    const generatorLag = monitorEventLoopDelay({ resolution: 10 });
    generatorLag.enable();
    const traffic = new Traffic(api.url, options.rate, options.maxInFlight, metricsToken);
    const sockets = new SocketChurn(api.url, options.sockets, options.churnPerSecond);
    const started = performance.now();
    const seenAppSeries = new Set<string>();
    let periodScrapes: Scrape[] = [];
    let periodNewSeries: string[] = [];
    let lastScrape: Scrape | undefined;
    const scraper = scrapeLoop(traffic, started, (scrape) => {
      for (const key of scrape.appSeries) {
        if (!seenAppSeries.has(key)) {
          seenAppSeries.add(key);
          periodNewSeries.push(key);
        }
      }
      periodScrapes.push(scrape);
      lastScrape = scrape;
    });
    traffic.start();
    sockets.start();

    const samples: Sample[] = [];
    let requests = 0;
    let previousCpu: { at: number; seconds: number } | undefined;
    const periodMs = options.sampleSeconds * 1000;
    for (let k = 1; k * periodMs <= durationMs + 1 && !interrupted(); k++) {
      const wait = started + k * periodMs - performance.now();
      if (wait > 0) await sleep(wait);
      if (!api.running) break;
      const scrapes = periodScrapes;
      const newSeries = periodNewSeries;
      periodScrapes = [];
      periodNewSeries = [];
      const window = traffic.takeWindow();
      requests += window.completed;
      const durations = window.durationsMs.sort((x, y) => x - y);
      const meanOf = (pick: (s: Scrape) => number) =>
        scrapes.length ? scrapes.reduce((sum, s) => sum + pick(s), 0) / scrapes.length : Number.NaN;
      const tail = scrapes.at(-1) ?? lastScrape;
      let apiCpuPct = Number.NaN;
      if (tail) {
        if (previousCpu && tail.at > previousCpu.at)
          apiCpuPct = ((tail.cpuSeconds - previousCpu.seconds) / ((tail.at - previousCpu.at) / 1000)) * 100;
        previousCpu = { at: tail.at, seconds: tail.cpuSeconds };
      }
      const sample: Sample = {
        t: Math.round((performance.now() - started) / 100) / 10,
        rssMiB: meanOf((s) => s.rssBytes) / MiB,
        heapUsedMiB: meanOf((s) => s.heapUsedBytes) / MiB,
        heapMinMiB: scrapes.length ? Math.min(...scrapes.map((s) => s.heapUsedBytes)) / MiB : Number.NaN,
        lagP99Ms: meanOf((s) => s.lagP99Seconds) * 1000,
        lagP99MaxMs: scrapes.length ? Math.max(...scrapes.map((s) => s.lagP99Seconds)) * 1000 : Number.NaN,
        series: tail?.seriesTotal ?? 0,
        appSeries: tail?.appSeries.length ?? 0,
        newAppSeries: newSeries,
        exposureKiB: (tail?.bytes ?? 0) / 1024,
        reqPerSec: window.completed / options.sampleSeconds,
        p50Ms: quantile(durations, 0.5),
        p99Ms: quantile(durations, 0.99),
        apiCpuPct,
        apiCpuMsPerRequest: window.completed > 0 ? (apiCpuPct * 10 * options.sampleSeconds) / window.completed : Number.NaN,
        load1: loadavg()[0] as number,
        requests,
        failures: traffic.failures,
        websocketConnections: tail?.websocketConnections ?? Number.NaN,
        wsEvents: sockets.stats.events,
        wsConnects: sockets.stats.connected,
        scrapes: scrapes.length,
      };
      samples.push(sample);
      process.stdout.write(`${line(sample)}\n`);
    }
    const apiRunning = api.running;

    await traffic.stop();
    await sockets.stop();
    await scraper.stop();
    generatorLag.disable();
    // The server notices a client's close on its next read; give it a moment before asking.
    let websocketConnectionsAfter: number | undefined;
    const deadline = Date.now() + 5000;
    while (apiRunning && Date.now() < deadline) {
      const body = await traffic.scrape();
      if (body !== undefined) websocketConnectionsAfter = readScrape(performance.now() - started, body).websocketConnections;
      if (websocketConnectionsAfter === 0) break;
      await sleep(250);
    }
    traffic.close();
    const logCounts = api.logCounts;
    const apiExit = await api.stop();
    const loadAtEnd = loadavg();

    const totals = traffic.totals;
    const verdict = judge(
      samples,
      {
        maxRssGrowth: options.maxRssGrowth,
        maxHeapGrowth: options.maxHeapGrowth,
        maxSeriesGrowth: 0.1,
        maxCpuPerRequestGrowth: 0.1,
        judgeMemory: options.minutes >= SHORT_RUN_MINUTES,
      },
      {
        failures: traffic.failures,
        socketConnectErrors: sockets.stats.connectErrors,
        socketConnects: sockets.stats.connected,
        socketConnectsPlanned: options.sockets + options.churnPerSecond * (samples.at(-1)?.t ?? 0),
        unexpectedDisconnects: sockets.stats.unexpectedDisconnects,
        websocketConnectionsAfter,
        apiRunning,
        apiExit: { code: apiExit.code, signal: apiExit.signal },
      },
    );
    const result = {
      kind: 'soak',
      startedAt: startedAt.toISOString(),
      minutesPlanned: options.minutes,
      secondsRun: samples.at(-1)?.t ?? 0,
      interrupted: interrupted(),
      machine: { ...machine(), loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAtEnd },
      pinning,
      adapter: options.adapter,
      backends: backends.description,
      apiEnv: 'NODE_ENV=production, LOG_LEVEL=warn, METRICS_TOKEN set, HOST=127.0.0.1',
      options,
      traffic: {
        ...totals,
        answered: requests,
        failures: traffic.failures,
        meanReqPerSec: requests / Math.max(1, samples.at(-1)?.t ?? 1),
        medianP99Ms: median(samples.map((s) => s.p99Ms)),
      },
      sockets: sockets.stats,
      generatorEventLoopDelayMs: { p99: generatorLag.percentile(99) / 1e6, max: generatorLag.max / 1e6 },
      apiLog: logCounts,
      apiExit,
      websocketConnectionsAfter,
      appSeriesSeen: [...seenAppSeries].sort(),
      verdict,
      samples,
    };
    return { samples, verdict, result };
  } finally {
    if (api?.running) await api.stop();
    await backends?.cleanup().catch((error: unknown) => process.stderr.write(`cleanup of the backends failed: ${String(error)}\n`));
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const parsed = parseSoakOptions(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  let stopRequested = false;
  process.on('SIGINT', () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    process.stderr.write('\nstopping after the current sample (Ctrl-C again to abort without cleanup)\n');
  });
  const { samples, verdict, result } = await soak(parsed, () => stopRequested);
  process.stdout.write(`\n${verdictLines(verdict).join('\n')}\n`);
  const byKind = (result.traffic as { byKind: Record<string, KindStats> }).byKind;
  const failed = Object.entries(byKind)
    .filter(([, k]) => k.connectionErrors + k.timeouts > 0 || Object.keys(k.unexpected).length > 0)
    .map(
      ([kind, k]) =>
        `${kind}: statuses ${JSON.stringify(k.unexpected)}, ${k.timeouts} timeouts, ${k.connectionErrors} connection errors ${JSON.stringify(k.errors)} (of ${k.sent})`,
    );
  if (failed.length) process.stdout.write(`  failed requests by kind: ${failed.join('; ')}\n`);

  const day = new Date().toISOString().slice(0, 10);
  // The default run (embedded backends, express, full length) keeps the plain name; others say how they differ.
  const name = [
    `soak-${day}`,
    ...(parsed.real ? ['real'] : []),
    ...(parsed.adapter !== 'express' ? [parsed.adapter] : []),
    ...(parsed.minutes < SHORT_RUN_MINUTES ? ['short'] : []),
  ].join('-');
  const dir = parsed.outDir ?? join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const jsonFile = join(dir, `${name}.json`);
  writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
  const traffic = result.traffic as { answered: number; failures: number; skippedSlots: number };
  const md = [
    `Soak of ${String(result.startedAt).slice(0, 16).replace('T', ' ')} UTC, ${parsed.minutes} min, ${parsed.adapter}, ${String(result.backends)}; ${String(result.pinning)}.`,
    '',
    markdownTable(condense(samples)),
    '',
    `${traffic.answered.toLocaleString('en-US')} requests answered, ${traffic.failures} failed, ${traffic.skippedSlots} slots skipped by the generator.`,
    '',
    '```text',
    ...verdictLines(verdict),
    '```',
    '',
  ].join('\n');
  writeFileSync(join(dir, `${name}.md`), md);
  process.stdout.write(`\nwrote ${relative(REPO, jsonFile)} and .md\n`);
  return verdict.ok && !stopRequested ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
