/**
 * Section 2: cost of rendering /metrics with 1k, 10k, 50k series, and the event-loop block a scrape
 * causes while the app serves traffic. Ours only, on a bench server with metrics on; the series
 * are synthetic route templates added through AppMetrics (each adds 15 samples).
 */
import type { Context } from '../context.js';
import { httpText, seriesCount } from '../lib/http.js';
import { linearFit, median } from '../lib/stats.js';
import { wrk } from '../lib/wrk.js';
import { type Adapter, type Stack, variant } from '../variants.js';
import { startVariant } from './overhead.js';
import type { DelayStats, LoadWindow, ScrapePoint, ScrapeResult } from '../results.js';
export type { LoadWindow, ScrapePoint, ScrapeResult };

async function loadWindow(
  ctx: Context,
  server: { call<T>(cmd: string, args?: unknown): Promise<T>; url: string },
  scrapeEveryMs: number | undefined,
): Promise<LoadWindow> {
  await server.call('eld-start');
  let scrapes = 0;
  let stopped = false;
  const scraping = (async () => {
    if (!scrapeEveryMs) return;
    await new Promise((r) => setTimeout(r, 200));
    while (!stopped) {
      const started = performance.now();
      await httpText(`${server.url}/metrics`);
      scrapes++;
      await new Promise((r) => setTimeout(r, Math.max(0, scrapeEveryMs - (performance.now() - started))));
    }
  })();
  const result = await wrk({
    url: `${server.url}/bench/7`,
    seconds: ctx.options.seconds,
    connections: ctx.options.connections,
    cpu: ctx.options.loadCpu,
  });
  stopped = true;
  await scraping;
  const eventLoop = await server.call<DelayStats>('eld-stop');
  return {
    eventLoop,
    rps: result.requests / (result.durationUs / 1e6),
    p99Ms: result.latencyUs.p99 / 1000,
    maxMs: result.latencyUs.max / 1000,
    scrapes,
  };
}

/** AppMetrics as shipped, then with the prom-client recording it replaced (after / before the fix). */
export async function runScrape(ctx: Context): Promise<ScrapeResult[]> {
  const results: ScrapeResult[] = [];
  for (const stack of ['ours-on', 'ours-prom-client'] as Stack[]) results.push(await scrapeOne(ctx, ctx.options.adapters[0], stack));
  return results;
}

async function scrapeOne(ctx: Context, adapter: Adapter, stack: Stack): Promise<ScrapeResult> {
  const running = await startVariant(ctx, variant(adapter, stack));
  const { server } = running;
  try {
    if (ctx.options.warmupSeconds > 0)
      await wrk({
        url: `${server.url}/bench/7`,
        seconds: ctx.options.warmupSeconds,
        connections: ctx.options.connections,
        cpu: ctx.options.loadCpu,
      });
    const points: ScrapePoint[] = [];
    for (const target of [...ctx.options.scrapeSeries].sort((a, b) => a - b)) {
      await server.call('populate', { series: target }, 120_000);
      const render = await server.call<{ times: number[]; bytes: number; series: number }>('render', { repeat: 7 }, 120_000);
      const http: number[] = [];
      let series = 0;
      for (let i = 0; i < 5; i++) {
        const r = await httpText(`${server.url}/metrics`);
        http.push(r.ms);
        series = seriesCount(r.body);
      }
      const withoutScrapes = await loadWindow(ctx, server, undefined);
      const withScrapes = await loadWindow(ctx, server, ctx.options.scrapeIntervalMs);
      const point: ScrapePoint = {
        series,
        bytes: render.bytes,
        renderMs: median(render.times),
        renderTimesMs: render.times,
        httpMs: median(http),
        rssBytes: server.rssBytes(),
        withoutScrapes,
        withScrapes,
      };
      ctx.log(
        `scrape ${stack}: ${series} series, ${(render.bytes / 1024).toFixed(0)} KiB, render ${point.renderMs.toFixed(1)} ms, ` +
          `event-loop max ${withoutScrapes.eventLoop.maxMs.toFixed(1)} → ${withScrapes.eventLoop.maxMs.toFixed(1)} ms with scrapes`,
      );
      points.push(point);
    }
    const fit = linearFit(
      points.map((p) => p.series),
      points.map((p) => p.renderMs),
    );
    return { adapter, stack, points, fit: { msPerThousandSeries: fit.slope * 1000, interceptMs: fit.intercept, r2: fit.r2 } };
  } finally {
    await ctx.stop(server);
  }
}
