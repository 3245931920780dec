/**
 * The module as a user installs it: `npm pack` of packages/observability, installed from the tarball
 * into a fresh Nest app in a temporary directory outside the repository (bench/consumer/app.mjs, one
 * `GET /bench/:id` controller), against the same app without the module, and against itself (A/A).
 * Servers on one core, wrk on the other; server CPU per request from /proc; rounds interleaved with
 * the order flipped every round; a difference inside the A/A spread is "no difference".
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from '../context.js';
import { httpText } from '../lib/http.js';
import { ServerProcess } from '../lib/proc.js';
import { aaSpread, compareWithAA, flippedOrder, median, pairedRatios } from '../lib/stats.js';
import { wrk } from '../lib/wrk.js';
import type { ConsumerAdapterResult, ConsumerArm, ConsumerResult, ConsumerSample } from '../results.js';
import type { Adapter } from '../variants.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const APP = fileURLToPath(new URL('../../../consumer/app.mjs', import.meta.url));
/** What a user's app would depend on, at the versions the repository runs. */
const DEPENDENCIES = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/platform-express',
  '@nestjs/platform-fastify',
  '@nestjs/terminus',
  'reflect-metadata',
  'rxjs',
] as const;
/** Below this A/A spread the method can resolve the 3 % goal; rounds are added (up to twice as many) until it is. */
export const AA_TARGET = 0.02;

const versionOf = (name: string) =>
  (JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

/** Packs the library and installs it with its peers in a directory outside the repository (reused while the tarball is the same). */
export function installConsumer(log: (m: string) => void): { dir: string; tarball: string; versions: Record<string, string> } {
  const packDir = mkdtempSync(join(tmpdir(), 'obsnest-pack-'));
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', packDir], {
      cwd: join(REPO, 'packages/observability'),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  ) as { filename: string }[];
  const tarballPath = join(packDir, packed[0].filename);
  const versions = Object.fromEntries(DEPENDENCIES.map((d) => [d, versionOf(d)]));
  const hash = createHash('sha256')
    .update(readFileSync(tarballPath))
    .update(JSON.stringify(versions))
    .update(readFileSync(APP))
    .digest('hex')
    .slice(0, 16);
  const dir = join(tmpdir(), `obsnest-consumer-${hash}`);
  const ready = join(dir, '.installed');
  if (!existsSync(ready)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    copyFileSync(tarballPath, join(dir, 'observability.tgz'));
    const dependencies = { '@obsnest/observability': 'file:observability.tgz', ...versions };
    writeFileSync(
      join(dir, 'package.json'),
      `${JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies }, null, 2)}\n`,
    );
    log(`consumer: npm install of the packed library into ${dir}`);
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'ignore' });
    writeFileSync(ready, '');
  }
  copyFileSync(APP, join(dir, 'app.mjs'));
  rmSync(packDir, { recursive: true, force: true });
  return { dir, tarball: packed[0].filename, versions };
}

interface Arm {
  readonly id: ConsumerArm['id'];
  readonly server: ServerProcess;
}

async function validate(arm: Arm): Promise<void> {
  const res = await httpText(`${arm.server.url}/bench/1`);
  if (res.status !== 200 || JSON.parse(res.body).id !== '1') throw new Error(`${arm.id}: GET /bench/1 answered ${res.status}`);
  const metrics = await httpText(`${arm.server.url}/metrics`);
  if (arm.id !== 'module') {
    if (metrics.status !== 404) throw new Error(`${arm.id}: the bare app should have no /metrics (got ${metrics.status})`);
    return;
  }
  if (!metrics.body.includes('http_requests_total{method="GET",route="/bench/:id",status_code="200"}'))
    throw new Error(`${arm.id}: /metrics does not count GET /bench/1`);
  if (!metrics.body.includes('process_cpu_user_seconds_total')) throw new Error(`${arm.id}: default metrics are not on`);
  const ready = await httpText(`${arm.server.url}/health/ready`);
  if (ready.status !== 200) throw new Error(`${arm.id}: /health/ready answered ${ready.status}`);
}

interface Tally {
  cpuSeconds: number;
  requests: number;
  durationUs: number;
}

/** One slice of load on one arm, added to its tally for the round. */
async function loadSlice(arm: Arm, ctx: Context, round: number, seconds: number, tally: Tally): Promise<void> {
  const before = arm.server.cpuSeconds();
  const result = await wrk({ url: `${arm.server.url}/bench/42`, seconds, connections: ctx.options.connections, cpu: ctx.options.loadCpu });
  tally.cpuSeconds += arm.server.cpuSeconds() - before;
  const errors = result.errors.connect + result.errors.read + result.errors.write + result.errors.timeout + result.errors.status;
  if (result.requests === 0 || errors > 0) throw new Error(`${arm.id}: ${result.requests} requests, ${errors} errors in round ${round}`);
  tally.requests += result.requests;
  tally.durationUs += result.durationUs;
}

const sample = (arm: Arm, round: number, t: Tally): ConsumerSample => ({
  round,
  requests: t.requests,
  cpuUsPerRequest: (t.cpuSeconds / t.requests) * 1e6,
  rps: t.requests / (t.durationUs / 1e6),
  rssBytes: arm.server.rssBytes(),
});

const ARM_IDS = ['bare', 'bare-again', 'module'] as const;
/** Express also gets the bare app with the module's request and response classes (see bench/consumer/app.mjs). */
const armIds = (adapter: Adapter): readonly Arm['id'][] => (adapter === 'express' ? [...ARM_IDS, 'bare-classes'] : ARM_IDS);

/**
 * Every round starts a fresh process per arm. Two processes of the same app differ by 3–5 % in CPU
 * per request for their whole life (JIT and heap sizing decisions, memory layout: measured here as
 * an A/A ratio stuck at −4.4 % over 16 rounds with long-lived processes), so one process per arm made
 * that difference look like the arms'. With a new process per round it is part of each round's noise,
 * which the median over rounds and the A/A spread account for.
 *
 * Within a round the arms take turns in one-second slices (the order flipped every slice) rather than
 * one block each: the machine's own speed drifts by 10–15 % within a minute on a shared host (measured
 * here: the same process read 72–96 µs per request from one window to the next), and slices interleaved
 * this finely see the same drift.
 */
async function runAdapter(ctx: Context, dir: string, adapter: Adapter): Promise<ConsumerAdapterResult> {
  const { consumerRounds, consumerSeconds } = ctx.options;
  const start = async (id: Arm['id'], round: number): Promise<Arm> => {
    const server = await ServerProcess.start({
      name: `consumer-${adapter}-${id}-${round}`,
      entry: join(dir, 'app.mjs'),
      cpu: ctx.options.serverCpu,
      env: { NODE_ENV: 'production', ADAPTER: adapter, VARIANT: id === 'bare-again' ? 'bare' : id },
      readyUrl: '/bench/1',
    });
    ctx.track(server);
    return { id, server };
  };
  const warm = (arm: Arm) =>
    wrk({
      url: `${arm.server.url}/bench/42`,
      seconds: ctx.options.warmupSeconds || 1,
      connections: ctx.options.connections,
      cpu: ctx.options.loadCpu,
    });

  const ids = armIds(adapter);
  const samples = new Map<Arm['id'], ConsumerSample[]>(ids.map((id) => [id, []]));
  const idleRss = new Map<Arm['id'], number[]>(ids.map((id) => [id, []]));
  const cpuOf = (id: Arm['id']) => (samples.get(id) ?? []).map((s) => s.cpuUsPerRequest);
  const maxRounds = consumerRounds * 2;
  let round = 0;
  while (round < consumerRounds || (round < maxRounds && aaSpread(pairedRatios(cpuOf('bare-again'), cpuOf('bare'))) >= AA_TARGET)) {
    round++;
    const arms: Arm[] = [];
    for (const id of flippedOrder(ids, round)) arms.push(await start(id, round));
    if (round === 1) for (const arm of arms) await validate(arm);
    for (const arm of arms) idleRss.get(arm.id)?.push(arm.server.rssBytes());
    for (const arm of arms) await warm(arm);
    const tallies = new Map<Arm, Tally>(arms.map((arm) => [arm, { cpuSeconds: 0, requests: 0, durationUs: 0 }]));
    const slices = Math.max(1, Math.round(consumerSeconds));
    for (let slice = 0; slice < slices; slice++)
      for (const arm of flippedOrder(arms, round + slice))
        await loadSlice(arm, ctx, round, consumerSeconds / slices, tallies.get(arm) as Tally);
    const line: string[] = [];
    for (const arm of arms) {
      const s = sample(arm, round, tallies.get(arm) as Tally);
      samples.get(arm.id)?.push(s);
      line.push(`${arm.id} ${s.cpuUsPerRequest.toFixed(1)}µs`);
    }
    for (const arm of arms) await ctx.stop(arm.server);
    ctx.log(`  consumer ${adapter} round ${round}: ${line.join(' | ')}`);
  }

  const aa = pairedRatios(cpuOf('bare-again'), cpuOf('bare'));
  const spreadAA = aaSpread(aa);
  const armResult = (id: Arm['id']): ConsumerArm => {
    const s = samples.get(id) ?? [];
    return {
      id,
      samples: s,
      cpuUsPerRequest: median(s.map((x) => x.cpuUsPerRequest)),
      rps: median(s.map((x) => x.rps)),
      idleRssBytes: median(idleRss.get(id) ?? []),
      loadedRssBytes: median(s.map((x) => x.rssBytes)),
    };
  };
  return {
    adapter,
    rounds: round,
    arms: ids.map(armResult),
    aaSpread: spreadAA,
    aa: compareWithAA(aa, spreadAA),
    module: compareWithAA(pairedRatios(cpuOf('module'), cpuOf('bare')), spreadAA),
    instrumentation: ids.includes('bare-classes')
      ? compareWithAA(pairedRatios(cpuOf('module'), cpuOf('bare-classes')), spreadAA)
      : undefined,
  };
}

export async function runConsumer(ctx: Context): Promise<ConsumerResult> {
  const installed = installConsumer(ctx.log);
  ctx.log(
    `consumer: ${installed.tarball} in ${installed.dir}; ${ctx.options.consumerRounds}+ rounds of ${ctx.options.consumerSeconds}s per arm`,
  );
  const adapters: ConsumerAdapterResult[] = [];
  for (const adapter of ctx.options.adapters) adapters.push(await runAdapter(ctx, installed.dir, adapter));
  return { tarball: installed.tarball, versions: installed.versions, options: 'forRoot({ metricsEnabled: true, appVersion })', adapters };
}
