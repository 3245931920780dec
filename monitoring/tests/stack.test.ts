import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { JOBS } from '../grafana/src/scrape-targets.js';
import { deleteRedisKeys, eventually, REDIS_URL } from './support/live.js';
import { REPO_ROOT } from './support/paths.js';
import { cleanEnv, output, run } from './support/run.js';
import { alive, killLeftovers, recordedPids, STACK, stack } from './support/stack.js';
import { freePort } from './support/service.js';

/**
 * `npm run up` / `status` / `down` as a user runs them (node scripts/stack.mjs …), natively, on
 * free ports, with a temporary run directory, data directory and .env file. Always followed by
 * `down`, and by a SIGKILL of anything `down` would have left behind.
 */

const SERVICES = ['alert-sink', 'api', 'node-exporter', 'redis-exporter', 'alertmanager', 'prometheus', 'dashboards'];

async function ok(url: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  await response.arrayBuffer();
  return response.status;
}

interface Target {
  labels: Record<string, string>;
  health: string;
  lastError: string;
}

describe('npm run up / status / down (native)', { timeout: 170_000 }, () => {
  it('starts the whole system, is safe to run twice, shows it in status, and stops exactly what it started', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'obsnest-stack-'));
    const runDir = join(dir, 'run');
    const prefix = `obsnest-stack-${randomBytes(5).toString('hex')}`;
    const token = randomBytes(24).toString('hex');
    const ports = {
      PORT: await freePort(),
      PROMETHEUS_PORT: await freePort(),
      ALERTMANAGER_PORT: await freePort(),
      NODE_EXPORTER_PORT: await freePort(),
      REDIS_EXPORTER_PORT: await freePort(),
      POSTGRES_EXPORTER_PORT: await freePort(),
      ALERT_SINK_PORT: await freePort(),
      DASHBOARDS_PORT: await freePort(),
    };
    // Part of the settings come from the .env file, to check it reaches the API and Prometheus:
    // the api target is only up if both got the same METRICS_TOKEN.
    const envFile = join(dir, 'test.env');
    await writeFile(envFile, `# test settings\nMETRICS_TOKEN="${token}"\nQUEUE_PREFIX=${prefix}\nLOG_LEVEL=info # inline comment\n`);
    const env = cleanEnv({
      ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
      RUN_DIR: runDir,
      DATA_DIR: join(dir, 'data'),
      ENV_FILE: envFile,
      STACK_MODE: 'native',
      NODE_ENV: 'test',
      // Redis set: redis-exporter runs. DATABASE_URL unset: the API uses its embedded database and
      // postgres-exporter is skipped, its job dropped from Prometheus' configuration.
      REDIS_URL,
    });
    const url = (port: number, path = '') => `http://127.0.0.1:${port}${path}`;
    let pids = new Map<string, number>();
    try {
      const first = await stack('up', env);
      assert.equal(first.code, 0, output(first));
      assert.match(first.stdout, /skipped postgres-exporter: DATABASE_URL is not set/);
      assert.match(first.stdout, /grafana: no Debian package/);
      pids = recordedPids(runDir);
      assert.deepEqual([...pids.keys()].sort(), [...SERVICES].sort());
      for (const [name, pid] of pids) assert.ok(alive(pid), `${name} runs`);

      // Each service answers on its port, on loopback.
      assert.equal(await ok(url(ports.PORT, '/health/ready')), 200);
      assert.equal(await ok(url(ports.PORT, '/metrics')), 401, 'the API got METRICS_TOKEN from the .env file');
      assert.equal(await ok(url(ports.PORT, '/metrics'), { authorization: `Bearer ${token}` }), 200);
      assert.equal(await ok(url(ports.PROMETHEUS_PORT, '/-/ready')), 200);
      assert.equal(await ok(url(ports.ALERTMANAGER_PORT, '/-/ready')), 200);
      assert.equal(await ok(url(ports.NODE_EXPORTER_PORT, '/metrics')), 200);
      assert.equal(await ok(url(ports.REDIS_EXPORTER_PORT, '/metrics')), 200);
      assert.equal(await ok(url(ports.ALERT_SINK_PORT, '/')), 200);
      // The dashboard viewer draws the dashboards and reaches this stack's Prometheus through its proxy.
      assert.equal(await ok(url(ports.DASHBOARDS_PORT, '/healthz')), 200);
      assert.equal(await ok(url(ports.DASHBOARDS_PORT, '/d/nestjs-backend')), 200);
      assert.equal(await ok(url(ports.DASHBOARDS_PORT, '/api/v1/query?query=up')), 200);
      // Without ALERT_WEBHOOK_URL, Alertmanager notifies the local sink (logging to alerts.log).
      const amConfig = join(runDir, 'alertmanager.yml');
      assert.ok(readFileSync(amConfig, 'utf8').includes(`url: 'http://127.0.0.1:${ports.ALERT_SINK_PORT}/'`));
      assert.equal((await stat(amConfig)).mode & 0o777, 0o600);
      assert.ok(existsSync(join(runDir, 'alerts.log')));
      const tokenFile = join(runDir, 'metrics_token');
      assert.equal(readFileSync(tokenFile, 'utf8'), token);
      assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);

      // Prometheus scrapes every started service (first scrapes come within one interval, 15 s).
      const wanted = [JOBS.api, JOBS.prometheus, JOBS.alertmanager, JOBS.node, JOBS.redis];
      let targets: Target[] = [];
      const started = Date.now();
      await eventually(
        'every target up',
        async () => {
          const response = await fetch(url(ports.PROMETHEUS_PORT, '/api/v1/targets?state=active'));
          targets = ((await response.json()) as { data: { activeTargets: Target[] } }).data.activeTargets;
          return wanted.every((job) => targets.some((target) => target.labels.job === job && target.health === 'up'));
        },
        45_000,
        500,
      ).catch(() => undefined);
      const health = Object.fromEntries(
        targets.map((target) => [target.labels.job, `${target.health}${target.lastError ? ` (${target.lastError})` : ''}`]),
      );
      assert.deepEqual(health, Object.fromEntries(wanted.map((job) => [job, 'up'])), 'postgres dropped, every other job up');
      t.diagnostic(`all targets up ${((Date.now() - started) / 1000).toFixed(1)} s after \`up\` returned`);

      // Twice is safe: nothing restarted.
      const second = await stack('up', env);
      assert.equal(second.code, 0, output(second));
      for (const name of SERVICES) assert.match(second.stdout, new RegExp(`${name}\\s.*already running \\(pid ${pids.get(name)}\\)`));
      assert.deepEqual(recordedPids(runDir), pids);

      const status = await stack('status', env);
      assert.equal(status.code, 0, output(status));
      assert.match(status.stdout, /7 of 8 services running/);
      for (const name of SERVICES) assert.match(status.stdout, new RegExp(`${name}\\s+ready\\s+pid ${pids.get(name)}\\s`));
      assert.match(status.stdout, /postgres-exporter\s+stopped/);

      // The same, as one JSON document for scripts: every service, its URL and pid, ready checked live.
      const json = await run(process.execPath, [STACK, 'status', '--json'], { cwd: REPO_ROOT, env, timeoutMs: 30_000 });
      assert.equal(json.code, 0, output(json));
      const report = JSON.parse(json.stdout) as {
        mode: string;
        services: { name: string; url: string | null; pid: number | null; ready: boolean; running: boolean }[];
      };
      assert.equal(report.mode, 'native');
      assert.deepEqual(report.services.map((s) => s.name).sort(), [...SERVICES, 'postgres-exporter'].sort());
      for (const name of SERVICES) {
        const service = report.services.find((s) => s.name === name);
        assert.deepEqual(
          { running: service?.running, ready: service?.ready, pid: service?.pid },
          { running: true, ready: true, pid: pids.get(name) },
          name,
        );
        assert.ok((await ok(service?.url ?? '')) > 0, `${name} answers at ${service?.url}`);
      }
      assert.deepEqual(
        report.services.find((s) => s.name === 'postgres-exporter'),
        {
          name: 'postgres-exporter',
          group: 'postgres-exporter',
          running: false,
          ready: false,
          url: null,
          pid: null,
          since: null,
        },
      );
      // `ready` is live: a stopped service reads not ready at once, though its record is still there.
      const sinkPid = pids.get('alert-sink') as number;
      process.kill(sinkPid, 'SIGSTOP');
      try {
        const frozen = JSON.parse(
          (await run(process.execPath, [STACK, 'status', '--json'], { cwd: REPO_ROOT, env, timeoutMs: 30_000 })).stdout,
        ) as typeof report;
        assert.equal(frozen.services.find((s) => s.name === 'alert-sink')?.ready, false, 'a frozen alert sink is not ready');
        assert.equal(frozen.services.find((s) => s.name === 'api')?.ready, true);
      } finally {
        process.kill(sinkPid, 'SIGCONT');
      }
    } finally {
      const down = await stack('down', env);
      const leftovers = killLeftovers(runDir);
      await deleteRedisKeys(prefix).catch(() => undefined);
      const stillAlive = await eventually(
        'the stopped processes to be gone',
        () => {
          const alivePids = [...pids].filter(([, pid]) => alive(pid));
          return alivePids.length === 0 ? [] : undefined;
        },
        10_000,
      ).catch(() => [...pids].filter(([, pid]) => alive(pid)));
      await rm(dir, { recursive: true, force: true });
      assert.equal(down.code, 0, output(down));
      assert.deepEqual(leftovers, [], 'down left processes behind');
      assert.deepEqual(stillAlive, []);
      assert.deepEqual([...recordedPids(runDir).keys()], [], 'pid files removed');
    }
  });

  it('refuses to start when a port is taken by another program, and starts nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'obsnest-stack-'));
    const runDir = join(dir, 'run');
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as { port: number }).port;
    try {
      const env = cleanEnv({
        RUN_DIR: runDir,
        DATA_DIR: join(dir, 'data'),
        ENV_FILE: join(dir, 'none.env'),
        STACK_MODE: 'native',
        PORT: String(await freePort()),
        PROMETHEUS_PORT: String(taken),
        ALERTMANAGER_PORT: String(await freePort()),
        NODE_EXPORTER_PORT: String(await freePort()),
        ALERT_SINK_PORT: String(await freePort()),
        DASHBOARDS_PORT: String(await freePort()),
      });
      await writeFile(join(dir, 'none.env'), '');
      const result = await stack('up', env);
      assert.equal(result.code, 1, output(result));
      assert.match(result.stderr, new RegExp(`PROMETHEUS_PORT=${taken}: 127\\.0\\.0\\.1:${taken} is already in use by another program`));
      assert.deepEqual([...recordedPids(runDir).keys()], [], 'nothing started');
    } finally {
      killLeftovers(runDir);
      squatter.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('never signals a recorded pid that now runs another program', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'obsnest-stack-'));
    // An unrelated process that happens to have the pid recorded for Prometheus (pid reuse).
    const bystander: ChildProcess = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const pid = bystander.pid as number;
      await writeFile(join(dir, 'prometheus.pid'), `${pid}\n`);
      await writeFile(join(dir, 'prometheus.json'), JSON.stringify({ name: 'prometheus', pid, argv: ['prometheus', '--config.file=x'] }));
      const result = await stack('down', cleanEnv({ RUN_DIR: dir }));
      assert.equal(result.code, 0, output(result));
      assert.match(result.stdout, /prometheus\s+not running \(pid \d+ now belongs to another program; record removed, nothing signalled\)/);
      assert.ok(alive(pid), 'the unrelated process still runs');
      assert.ok(!existsSync(join(dir, 'prometheus.pid')), 'the stale record is removed');
    } finally {
      bystander.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
