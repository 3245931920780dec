#!/usr/bin/env node
/**
 * What tracing costs on the real API: `GET /users/:id` on PostgreSQL, metrics on as in production,
 * with tracing off twice (an A/A pair: the spread the other figures must be read against), on at
 * 100 % and on at 1 % (parentbased_traceidratio 0.01). With tracing on, spans go over OTLP/HTTP
 * (http/protobuf, the default) to a sink in this process that answers 200 and keeps nothing, so the
 * figures are the SDK's and the exporter's cost, not a backend's.
 *
 *   npm run bench:tracing [-- --rounds 5 --seconds 5 --adapter express --before <other build's main.js>]
 *
 * Servers pinned to core 0, wrk (and the sink) to core 1, interleaved rounds as in the main bench.
 */
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { httpText } from './lib/http.js';
import { ServerProcess } from './lib/proc.js';
import { interleave, type TargetSummary } from './lib/rounds.js';
import { apiEntry, pinSelf } from './soak/api.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
    adapter: { type: 'string', default: 'express' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    /** Another build's API entry (e.g. the main branch before tracing), measured as variant `before`. */
    before: { type: 'string' },
  },
});
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PROBE = new URL('./servers/probe.js', import.meta.url).href;
const log = (message: string) => process.stderr.write(`[tracing] ${message}\n`);

const VARIANTS: { id: string; env: Record<string, string>; entry?: string }[] = [
  { id: 'tracing-off', env: {} },
  ...(values.before ? [{ id: 'before', env: {}, entry: values.before }] : []),
  { id: 'tracing-off-b', env: {} },
  { id: 'tracing-100', env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'parentbased_always_on' } },
  {
    id: 'tracing-1',
    env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' },
  },
];

async function main(): Promise<void> {
  pinSelf('1');
  let exportedBytes = 0;
  let exports = 0;
  const sink = createServer((req, res) => {
    req.on('data', (c: Buffer) => (exportedBytes += c.length));
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', () => resolve()));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;

  const dbName = `obsnest_bench_tracing_${process.pid}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${dbName}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'obsnest-bench-'));
  const servers: { id: string; server: ServerProcess }[] = [];
  try {
    for (const variant of VARIANTS) {
      const server = await ServerProcess.start({
        name: variant.id,
        entry: variant.entry ?? apiEntry(),
        cpu: '0',
        nodeFlags: ['--import', PROBE],
        env: {
          NODE_ENV: 'production',
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
          DATA_DIR: dataDir,
          SHUTDOWN_DRAIN_MS: '0',
          METRICS_TOKEN: 'bench-metrics-token-0123456789',
          DATABASE_URL: dbUrl.toString(),
          HTTP_ADAPTER: values.adapter,
          OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
          ...variant.env,
        },
        readyUrl: '/health/ready',
      });
      servers.push({ id: variant.id, server });
    }
    const created = await httpText(`${servers[0]!.server.url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `bench-${Date.now()}@example.com`, name: 'Bench User' }),
    });
    if (created.status !== 201) throw new Error(`POST /users answered ${created.status}: ${created.body}`);
    const userId = (JSON.parse(created.body) as { id: string }).id;
    const exportsBefore = exports;
    const targets = servers.map((s) => ({
      id: s.id,
      server: s.server,
      url: `${s.server.url}/users/${userId}`,
      baseline: s.id === 'tracing-off' ? '' : 'tracing-off',
    }));
    const rounds = Number(values.rounds);
    log(
      `${values.adapter}: ${VARIANTS.length} API processes, ${rounds} interleaved rounds of ${values.seconds}s after ${values.warmup}s warm-up`,
    );
    const summaries = await interleave(targets, {
      rounds,
      seconds: Number(values.seconds),
      warmupSeconds: Number(values.warmup),
      connections: 32,
      loadCpu: '1',
      seed: Number(values.seed),
      log,
    });
    await new Promise((r) => setTimeout(r, 1500));
    const report = render(summaries, {
      adapter: values.adapter,
      rounds,
      seconds: Number(values.seconds),
      seed: Number(values.seed),
      exports: exports - exportsBefore,
      exportedMiB: exportedBytes / 2 ** 20,
    });
    process.stdout.write(report);
    const dir = new URL('../../results/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    writeFileSync(new URL(`${new Date().toISOString().slice(0, 10)}-tracing.md`, dir), report);
  } finally {
    for (const s of servers) await s.server.stop();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
    sink.close();
  }
}

const pct = (ratio: number | undefined) =>
  ratio === undefined ? '—' : `${ratio >= 1 ? '+' : '−'}${Math.abs((ratio - 1) * 100).toFixed(1)} %`;

function render(
  summaries: TargetSummary[],
  run: { adapter: string | undefined; rounds: number; seconds: number; seed: number; exports: number; exportedMiB: number },
): string {
  const rows = summaries.map(
    (s) =>
      `| \`${s.id}\` | ${s.median.cpuUsPerRequest.toFixed(1)} | ${pct(s.vsBaseline?.cpuPerRequest)} | ${Math.round(s.median.rps)} | ${pct(s.vsBaseline?.rps)} | ${s.median.p99Ms.toFixed(2)} | ${(s.spread.cpuPerRequest * 100).toFixed(1)} % | ${(s.median.rssBytes / 2 ** 20).toFixed(0)} |`,
  );
  const aa = summaries.find((s) => s.id === 'tracing-off-b')?.vsBaseline?.cpuPerRequest;
  return [
    `### Tracing cost, ${new Date().toISOString().slice(0, 10)} (${run.adapter}, GET /users/:id on PostgreSQL, metrics on)`,
    '',
    `${run.rounds} interleaved rounds of ${run.seconds} s, seed ${run.seed}; API on core 0, wrk and the OTLP sink on core 1; ratios are medians of round-by-round ratios to \`tracing-off\`.`,
    `A/A: \`tracing-off-b\` is the same configuration as \`tracing-off\` in another process; its CPU/request ratio (${pct(aa)}) is the noise floor.`,
    `Exported during the rounds: ${run.exports} OTLP requests, ${run.exportedMiB.toFixed(1)} MiB.`,
    '',
    '| variant | CPU µs/request | CPU vs off | req/s | req/s vs off | p99 ms | CPU spread over rounds | RSS MiB |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

await main();
