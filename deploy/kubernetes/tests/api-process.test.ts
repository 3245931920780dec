import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, type TempDir, tempDir, waitFor } from '@obsnest/testkit';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { OVERLAYS_DIR } from '../src/paths.js';
import { apiDeployment, envValues } from './support/checks.js';
import { kustomize } from './support/render.js';

/**
 * The real API, started with the environment the production Deployment gives it, answers where the
 * probes and the ServiceMonitor look, and stops within the grace period. Only what cannot be the
 * same on a test machine is replaced: loopback instead of 0.0.0.0, free ports, a temp DATA_DIR, and
 * for the Secrets a token, a fresh database on the machine's PostgreSQL and its Redis.
 */

const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const exec = promisify(execFile);
const psql = (sql: string) => exec('psql', [PG_ADMIN_URL, '--no-psqlrc', '--quiet', '--set=ON_ERROR_STOP=1', '--command', sql]);

const API_ENTRY = fileURLToPath(import.meta.resolve('@obsnest/api'));

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly output: () => string;
}

describe('the API with the production Deployment environment', () => {
  let container: IContainer;
  let pod: IPodSpec;
  let data: TempDir;
  let api: Running;
  let management: string;
  let publicUrl: string;
  const token = randomBytes(32).toString('hex');
  const suffix = randomBytes(6).toString('hex');
  const database = `obsnest_k8s_${suffix}`;

  before(async () => {
    const found = apiDeployment(await kustomize(join(OVERLAYS_DIR, 'production')));
    if (typeof found === 'string') throw new Error(found);
    container = found.container;
    pod = found.deployment.spec?.template.spec as IPodSpec;
    data = await tempDir('obsnest-k8s-api-');
    await psql(`CREATE DATABASE ${database}`);
    const [port, managementPort] = [await freePort(), await freePort()];
    const env = {
      ...Object.fromEntries(envValues(container)),
      HOST: '127.0.0.1',
      MANAGEMENT_HOST: '127.0.0.1',
      PORT: String(port),
      MANAGEMENT_PORT: String(managementPort),
      DATA_DIR: data.path,
      METRICS_TOKEN: token,
      DATABASE_URL: `${PG_ADMIN_URL.replace(/\/[^/]*$/, '')}/${database}`,
      REDIS_URL,
      QUEUE_PREFIX: `obsnest-k8s-${suffix}`,
      LOG_LEVEL: 'info',
    };
    // Not the test runner's environment: nothing of this machine's (a DATABASE_URL, say) leaks in.
    const child = spawn(process.execPath, [API_ENTRY], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    api = { child, output: () => output, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
    management = `http://127.0.0.1:${managementPort}`;
    publicUrl = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    api?.child.kill('SIGKILL');
    await api?.exited;
    await data?.remove();
    await psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    // The queue's keys, which BullMQ leaves in Redis.
    const unlinkPrefix = "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('UNLINK', k) end";
    await exec('redis-cli', ['-u', REDIS_URL, 'EVAL', unlinkPrefix, '0', `obsnest-k8s-${suffix}:*`]);
  });

  it("is ready within the startup probe's budget, on the management port", async () => {
    const probe = container.startupProbe;
    const budgetMs = (probe?.periodSeconds ?? 10) * (probe?.failureThreshold ?? 3) * 1000;
    await waitFor(
      `/health/ready on the management port (output: ${api.output().slice(-500)})`,
      async () => (await fetch(`${management}/health/ready`)).status === 200,
      budgetMs,
    );
    assert.equal((await fetch(`${management}/health/live`)).status, 200);
  });

  it('serves /metrics on the management port to the bearer token only', async () => {
    assert.equal((await fetch(`${management}/metrics`)).status, 401);
    const scraped = await fetch(`${management}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(scraped.status, 200);
    assert.match(await scraped.text(), /^app_build_info\{/m);
  });

  it('keeps /metrics and /health off the public port', async () => {
    assert.equal((await fetch(`${publicUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status, 404);
    assert.equal((await fetch(`${publicUrl}/health/ready`)).status, 404);
  });

  it('on SIGTERM turns unready, then exits 0 before the grace period left after preStop runs out', async () => {
    const command = container.lifecycle?.preStop?.exec?.command ?? [];
    const preStopMs = command[0] === 'sleep' ? Number(command[1]) * 1000 : 0;
    const graceMs = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
    const start = Date.now();
    api.child.kill('SIGTERM');
    await waitFor('readiness to answer 503', async () => (await fetch(`${management}/health/ready`)).status === 503);
    assert.equal(await api.exited, 0, api.output().slice(-2000));
    const elapsed = Date.now() - start;
    assert.ok(elapsed < graceMs - preStopMs, `stopped after ${elapsed} ms; the kubelet would SIGKILL at ${graceMs - preStopMs} ms`);
    assert.ok(elapsed >= Number(envValues(container).get('SHUTDOWN_DRAIN_MS')), `stopped after ${elapsed} ms, before the drain ended`);
  });
});
