/**
 * Section 3: cardinality attack. Random paths, methods, query strings and bodies against a bench
 * server with our metrics on; series count and memory are sampled while it runs.
 */
import { KNOWN_HTTP_METHODS } from '@obsnest/observability';
import type { Context } from '../context.js';
import { httpText, seriesCount } from '../lib/http.js';
import { flood } from '../lib/wrk.js';
import { type Adapter, variant } from '../variants.js';
import { startVariant } from './overhead.js';
import type { FloodSample, FloodAdapterResult, FloodCrash, FloodSectionResult } from '../results.js';
export type { FloodSample, FloodAdapterResult, FloodCrash, FloodSectionResult };

const HTTP_SERIES = /^http_request/;
const BENCH_ROUTES = ['/bench/:id'];

async function snapshot(url: string): Promise<{ series: number; httpSeries: number; labelSets: string[] }> {
  const text = (await httpText(url)).body;
  const lines = text.split('\n');
  const labelSets = lines
    .filter((l) => l.startsWith('http_requests_total{'))
    .map((l) => l.slice('http_requests_total'.length, l.lastIndexOf(' ')));
  return { series: seriesCount(text), httpSeries: lines.filter((l) => HTTP_SERIES.test(l)).length, labelSets };
}

/** Sum of http_requests_total over every label set. */
export function counted(labelSetsWithValues: string): number {
  let total = 0;
  for (const line of labelSetsWithValues.split('\n'))
    if (line.startsWith('http_requests_total{')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  return total;
}

interface Attempt {
  result?: FloodAdapterResult;
  crash?: FloodCrash;
}

async function attack(ctx: Context, adapter: Adapter, percentEncoding: boolean): Promise<Attempt> {
  const running = await startVariant(ctx, variant(adapter, 'ours-on'), ['--expose-gc']);
  const { server } = running;
  const metricsUrl = running.metricsUrl!;
  try {
    // Ordinary traffic first, so the legitimate series exist before the attack.
    for (let i = 0; i < 20; i++) await httpText(`${server.url}/bench/${i}`);
    const gcBefore = await server.call<NodeJS.MemoryUsage>('gc');
    const snapBefore = await snapshot(metricsUrl);
    const countedBefore = counted((await httpText(metricsUrl)).body);
    const before = {
      series: snapBefore.series,
      httpSeries: snapBefore.httpSeries,
      rssBytes: server.rssBytes(),
      heapUsedGcBytes: gcBefore.heapUsed,
    };
    ctx.log(
      `flood ${adapter}: ${ctx.options.floodRequests} random requests${percentEncoding ? '' : " without '%'"} (series before: ${before.series})`,
    );

    const samples: FloodSample[] = [];
    const started = performance.now();
    const abort = new AbortController();
    void server.exitedPromise.then(() => abort.abort());
    let done = false;
    const sampler = (async () => {
      let tick = 0;
      while (!done && !server.hasExited) {
        await new Promise((r) => setTimeout(r, 1000));
        if (done || server.hasExited) break;
        tick++;
        const t = (performance.now() - started) / 1000;
        if (tick % 5 === 0) {
          const [mem, snap] = await Promise.all([server.call<NodeJS.MemoryUsage>('memory'), snapshot(metricsUrl)]).catch(() => [
            undefined,
            undefined,
          ]);
          samples.push({ t, rssBytes: server.rssBytes(), heapUsedBytes: mem?.heapUsed, series: snap?.series });
        } else {
          samples.push({ t, rssBytes: server.rssBytes() });
        }
      }
    })();
    const result = await flood({
      url: server.url,
      seconds: Math.ceil(ctx.options.floodRequests / 200) + 60,
      connections: ctx.options.connections,
      cpu: ctx.options.loadCpu,
      requests: ctx.options.floodRequests,
      seed: ctx.options.seed,
      percentEncoding,
      signal: abort.signal,
    });
    done = true;
    await sampler;
    const elapsed = (performance.now() - started) / 1000;
    if (server.hasExited) {
      const stderr = server.errorOutput;
      const firstLines = stderr
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(0, 14)
        .join('\n');
      ctx.log(`flood ${adapter}: SERVER CRASHED after ${result.responses} responses:\n${firstLines}`);
      return { crash: { adapter, afterResponses: result.responses, seconds: elapsed, percentEncoding, stderr: firstLines } };
    }
    const afterText = (await httpText(metricsUrl)).body;
    const snapAfter = await snapshot(metricsUrl);
    samples.push({ t: elapsed, rssBytes: server.rssBytes(), series: snapAfter.series });
    const gcAfter = await server.call<NodeJS.MemoryUsage>('gc');
    const after = {
      series: snapAfter.series,
      httpSeries: snapAfter.httpSeries,
      rssBytes: server.rssBytes(),
      heapUsedGcBytes: gcAfter.heapUsed,
    };

    // Method: the known set plus OTHER. Route: the bench app's one counted template plus UNMATCHED
    // (/metrics and /health/* are not counted). Status: the codes the app answered with.
    const statuses = new Set(snapAfter.labelSets.map((l) => /status_code="([^"]*)"/.exec(l)?.[1])).size;
    const methods = KNOWN_HTTP_METHODS.length + 1;
    const routes = BENCH_ROUTES.length + 1;
    const bound = {
      methods,
      routes,
      statusCodes: statuses,
      labelSets: methods * routes * statuses,
      samples: methods * routes * statuses * 15,
    };
    const half = samples.filter((s) => s.t >= elapsed / 2 && Number.isFinite(s.rssBytes));
    const rate = result.responses / elapsed;
    const slope =
      half.length >= 2
        ? ((half.at(-1)!.rssBytes - half[0].rssBytes) / Math.max(1, (half.at(-1)!.t - half[0].t) * rate)) * 100_000
        : Number.NaN;
    const serverErrors = Object.entries(result.statuses)
      .filter(([s]) => Number(s) >= 500)
      .reduce((a, [, n]) => a + n, 0);
    const socket = result.errors.connect + result.errors.read + result.errors.write + result.errors.timeout;
    const countedDuring = counted(afterText) - countedBefore;
    ctx.log(
      `flood ${adapter}: ${result.responses} responses in ${elapsed.toFixed(0)} s, statuses ${JSON.stringify(result.statuses)}, ` +
        `counted ${countedDuring}, series ${before.series} → ${after.series}, RSS ${(before.rssBytes / 2 ** 20).toFixed(0)} → ${(after.rssBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    return {
      result: {
        adapter,
        requests: ctx.options.floodRequests,
        percentEncoding,
        seconds: elapsed,
        before,
        after,
        labelSets: snapAfter.labelSets,
        bound,
        samples,
        wrk: result,
        failures: { socket, serverErrors },
        countedByMetrics: countedDuring,
        rssSlopePer100k: slope,
      },
    };
  } finally {
    await ctx.stop(server);
  }
}

export async function runFlood(ctx: Context): Promise<FloodSectionResult> {
  const runs: FloodAdapterResult[] = [];
  const crashes: FloodCrash[] = [];
  for (const adapter of ctx.options.adapters) {
    const first = await attack(ctx, adapter, true);
    if (first.result) runs.push(first.result);
    if (first.crash) {
      crashes.push(first.crash);
      const second = await attack(ctx, adapter, false);
      if (second.result) runs.push(second.result);
      if (second.crash) crashes.push(second.crash);
    }
  }
  return { runs, crashes };
}
