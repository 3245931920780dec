/**
 * The module as a user installs it: `npm pack` of packages/observability, installed from the tarball
 * into a fresh Nest app in a temporary directory outside the repository (bench/consumer/app.mjs, one
 * `GET /bench/:id` controller), against the same app without the module, and against itself (A/A).
 * Servers on one core, wrk on the other; server CPU per request from /proc; fresh processes every
 * round, the arms taking turns in ~100 ms quanta (`rotatedRounds`); a difference inside the A/A
 * spread is "no difference".
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
import { type FreshArm, QUANTUM_MS, rotatedRounds } from '../lib/rounds.js';
import { aaSpread, compareWithAA, median, pairedRatios } from '../lib/stats.js';
import type { ConsumerAdapterResult, ConsumerArm, ConsumerResult } from '../results.js';
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

const ARM_IDS = ['bare', 'bare-again', 'module'] as const;
/** Express also gets the bare app with the module's request and response classes (see bench/consumer/app.mjs). */
const armIds = (adapter: Adapter): readonly Arm['id'][] => (adapter === 'express' ? [...ARM_IDS, 'bare-classes'] : ARM_IDS);

/**
 * Rounds of fresh processes, the arms taking turns in ~100 ms quanta (`rotatedRounds`): each round
 * gives one paired ratio per arm against `bare`, and rounds are added (up to three times as many)
 * while the A/A spread is AA_TARGET or more.
 */
async function runAdapter(ctx: Context, dir: string, adapter: Adapter): Promise<ConsumerAdapterResult> {
  const { consumerRounds, consumerSeconds } = ctx.options;
  const ids = armIds(adapter);
  const arms: FreshArm[] = ids.map((id) => ({
    id,
    baseline: id === 'bare' ? '' : 'bare',
    path: '/bench/42',
    start: async (round: number) => {
      const server = await ServerProcess.start({
        name: `consumer-${adapter}-${id}-${round}`,
        entry: join(dir, 'app.mjs'),
        cpu: ctx.options.serverCpu,
        env: { NODE_ENV: 'production', ADAPTER: adapter, VARIANT: id === 'bare-again' ? 'bare' : id },
        readyUrl: '/bench/1',
      });
      ctx.track(server);
      return server;
    },
  }));
  const summaries = await rotatedRounds(arms, {
    rounds: consumerRounds,
    aa: { arm: 'bare-again', baseline: 'bare' },
    seconds: consumerSeconds,
    warmupSeconds: ctx.options.warmupSeconds,
    connections: ctx.options.connections,
    loadCpu: ctx.options.loadCpu,
    seed: ctx.options.seed,
    log: (m) => ctx.log(`consumer ${adapter}${m}`),
    inspect: async (servers, phase) => {
      if (phase === 'first') for (const [id, server] of servers) await validate({ id: id as Arm['id'], server });
    },
    stop: ctx.stop,
  });
  const samplesOf = (id: Arm['id']) => summaries.find((x) => x.id === id)?.samples ?? [];
  const cpuOf = (id: Arm['id']) => samplesOf(id).map((s) => s.cpuUsPerRequest);
  const aa = pairedRatios(cpuOf('bare-again'), cpuOf('bare'));
  const spreadAA = aaSpread(aa);
  const armResult = (id: Arm['id']): ConsumerArm => {
    const s = samplesOf(id);
    return {
      id,
      samples: s.map((x) => ({
        round: x.round,
        requests: x.requests,
        cpuUsPerRequest: x.cpuUsPerRequest,
        rps: x.rps,
        rssBytes: x.rssBytes,
      })),
      cpuUsPerRequest: median(s.map((x) => x.cpuUsPerRequest)),
      rps: median(s.map((x) => x.rps)),
      idleRssBytes: median(s.map((x) => x.idleRssBytes ?? Number.NaN)),
      loadedRssBytes: median(s.map((x) => x.rssBytes)),
    };
  };
  return {
    adapter,
    rounds: samplesOf('bare').length,
    method: `rotation in ${QUANTUM_MS} ms quanta`,
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
