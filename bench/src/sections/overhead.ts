/** Section 1 (trivial route) and half of section 4 (bench servers' memory): every variant side by side. */
import { fileURLToPath } from 'node:url';
import type { Context } from '../context.js';
import { httpText } from '../lib/http.js';
import { freePort, ServerProcess } from '../lib/proc.js';
import { interleave } from '../lib/rounds.js';
import { type Variant, variant, variantsFor } from '../variants.js';
import type { MemoryReading, OverheadVariantResult, OverheadResult } from '../results.js';
export type { MemoryReading, OverheadVariantResult, OverheadResult };

export const SERVER_ENTRY = fileURLToPath(new URL('../servers/server.js', import.meta.url));
export const OTEL_ENTRY = fileURLToPath(new URL('../servers/otel-server.js', import.meta.url));

export interface RunningVariant {
  readonly variant: Variant;
  readonly server: ServerProcess;
  /** Where its metrics are exposed (the OTel exporter has a port of its own). */
  readonly metricsUrl: string | undefined;
}

export async function startVariant(ctx: Context, v: Variant, nodeFlags: string[] = []): Promise<RunningVariant> {
  const otelPort = v.stack === 'otel' ? await freePort() : undefined;
  const server = await ServerProcess.start({
    name: v.id,
    entry: v.stack === 'otel' ? OTEL_ENTRY : SERVER_ENTRY,
    cpu: ctx.options.serverCpu,
    nodeFlags,
    env: {
      NODE_ENV: 'production',
      BENCH_ADAPTER: v.adapter,
      BENCH_STACK: v.stack,
      ...(otelPort ? { OTEL_METRICS_PORT: String(otelPort) } : {}),
    },
  });
  ctx.track(server);
  const metricsUrl = v.metricsPath ? `http://127.0.0.1:${otelPort ?? server.port}${v.metricsPath}` : undefined;
  return { variant: v, server, metricsUrl };
}

/** One request, then proof that the stack counted it (or, for ours-off, that metrics are off). */
export async function validate(running: RunningVariant): Promise<string> {
  const { variant: v, server } = running;
  const response = await httpText(`${server.url}/bench/1`);
  if (response.status !== 200 || JSON.parse(response.body).id !== '1')
    throw new Error(`${v.id}: GET /bench/1 answered ${response.status} ${response.body}`);
  if (v.stack === 'ours-off') {
    const metrics = await httpText(`${server.url}/metrics`);
    if (metrics.status !== 404) throw new Error(`${v.id}: /metrics should be off, answered ${metrics.status}`);
    return 'GET /bench/1 200; /metrics 404 (metrics off)';
  }
  if (!running.metricsUrl || !v.counted) return 'GET /bench/1 200';
  // The OTel exporter and fastify-metrics record when the response is done; give them a moment.
  for (let attempt = 0; attempt < 20; attempt++) {
    const metrics = await httpText(running.metricsUrl);
    if (metrics.body.includes(v.counted)) return `GET /bench/1 200; counted as ${v.counted}`;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${v.id}: ${running.metricsUrl} does not show the request (${v.counted})`);
}

export async function memoryOf(server: ServerProcess): Promise<MemoryReading> {
  const usage = await server.call<NodeJS.MemoryUsage>('memory');
  return { rssBytes: server.rssBytes(), heapUsedBytes: usage.heapUsed, heapTotalBytes: usage.heapTotal };
}

export async function runOverhead(ctx: Context): Promise<OverheadResult> {
  const variants = ctx.options.adapters.flatMap(variantsFor);
  ctx.log(`overhead: starting ${variants.length} servers on core ${ctx.options.serverCpu}`);
  // Started together (start-up is not measured; they all wait on one core anyway).
  const running: RunningVariant[] = await Promise.all(variants.map((v) => startVariant(ctx, v)));
  const validated = new Map<string, string>();
  for (const r of running) validated.set(r.variant.id, await validate(r));
  await new Promise((r) => setTimeout(r, 1000));
  const atRest = new Map<string, MemoryReading>();
  for (const r of running) atRest.set(r.variant.id, await memoryOf(r.server));

  const targets = running.map((r) => {
    const v = r.variant;
    const baseline = v.baseline ? variant(v.adapter, v.baseline).id : '';
    const reference = v.stack === 'ours-on' || v.stack === 'ours-prom-client' ? variant(v.adapter, 'bare').id : undefined;
    return { id: v.id, server: r.server, url: `${r.server.url}/bench/42`, baseline, reference };
  });
  ctx.log(
    `overhead: warm-up ${ctx.options.warmupSeconds}s each, then ${ctx.options.rounds} rounds of ${ctx.options.seconds}s, interleaved`,
  );
  const summaries = await interleave(targets, { ...ctx.options, log: ctx.log });
  for (const r of running) await ctx.stop(r.server);
  return {
    route: 'GET /bench/:id',
    variants: running.map((r) => ({
      id: r.variant.id,
      adapter: r.variant.adapter,
      stack: r.variant.stack,
      label: r.variant.label,
      validated: validated.get(r.variant.id) ?? '',
      atRest: atRest.get(r.variant.id)!,
      summary: summaries.find((s) => s.id === r.variant.id)!,
    })),
  };
}
