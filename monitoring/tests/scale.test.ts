import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { io } from 'socket.io-client';
import { LOAD_BALANCER_JOB } from '../grafana/src/dashboards/load-balancer.js';
import { allPanelQueries } from '../grafana/src/panel-queries.js';
import { API_CONFIG } from '../src/repo/api.js';
import { createDatabase, deleteRedisKeys, eventually, REDIS_URL, startWebhookReceiver } from './support/live.js';
import { cleanEnv, output } from './support/run.js';
import { freePort } from './support/service.js';
import { alive, killLeftovers, recordedPids, stack } from './support/stack.js';

/**
 * The native stack scaled out, as `API_REPLICAS=3 PROMETHEUS_REPLICAS=2 ALERTMANAGER_REPLICAS=2
 * npm run up` runs it: HAProxy over three API replicas, two Prometheus with VictoriaMetrics behind
 * them, two clustered Alertmanagers. Real processes on free loopback ports, a temporary database,
 * run directory and Redis prefix; always followed by `down` and a SIGKILL of any leftover.
 */

interface Status {
  services: { name: string; group: string; running: boolean; ready: boolean; url: string | null; pid: number | null }[];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function json<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return (await response.json()) as T;
}

async function query(base: string, promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const body = await json<{ data: { result: { metric: Record<string, string>; value: [number, string] }[] } }>(
    `${base}/api/v1/query?query=${encodeURIComponent(promql)}`,
  );
  return body.data.result;
}

/** Steady GET load through the load balancer until stop(): how many requests, how many failed. */
function load(url: string, concurrency: number) {
  let running = true;
  const counts = { sent: 0, failed: 0, errors: new Map<string, number>() };
  const worker = async () => {
    while (running) {
      counts.sent++;
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      } catch (error) {
        counts.failed++;
        const key = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
        counts.errors.set(key, (counts.errors.get(key) ?? 0) + 1);
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    counts,
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return counts;
    },
  };
}

describe('npm run up scaled out (native): API replicas behind HAProxy, Prometheus and Alertmanager in HA, VictoriaMetrics', {
  timeout: 420_000,
}, () => {
  /** `npm run up` with `vars` and no env file (so no shared database or queue): it must exit 1, start nothing, and say `reasons`. */
  async function refusedUp(vars: Record<string, string>, reasons: RegExp[]): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'obsnest-scale-'));
    try {
      await writeFile(join(dir, 'none.env'), '');
      const env = cleanEnv({ RUN_DIR: join(dir, 'run'), ENV_FILE: join(dir, 'none.env'), STACK_MODE: 'native', ...vars });
      const result = await stack('up', env);
      assert.equal(result.code, 1, output(result));
      for (const reason of reasons) assert.match(result.stderr, reason);
      assert.deepEqual([...recordedPids(join(dir, 'run')).keys()], [], 'nothing started');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('refuses API_REPLICAS above 1 without a shared database and queue, and says why', () =>
    refusedUp({ API_REPLICAS: '2' }, [
      /API_REPLICAS=2 needs a shared PostgreSQL and Redis/,
      /DATABASE_URL is not set: .*PGlite belongs to one process/,
      /REDIS_URL is not set/,
    ]));

  it('refuses API_WORKERS above 1 without a shared database and queue, like replicas', () =>
    refusedUp({ API_WORKERS: '3' }, [
      /API_WORKERS=3 needs a shared PostgreSQL and Redis/,
      /so workers would not see each other’s users/,
      /or API_WORKERS=1\./,
    ]));

  it('balances three replicas, survives a SIGTERM, a SIGKILL and a rolling restart without failed requests, is monitored twice and stored once, and outlives a Prometheus and an Alertmanager', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'obsnest-scale-'));
    const runDir = join(dir, 'run');
    const prefix = `obsnest-scale-${randomBytes(5).toString('hex')}`;
    const token = randomBytes(24).toString('hex');
    const db = await createDatabase();
    const receiver = await startWebhookReceiver();
    // Blocks of consecutive ports (replicas, Prometheus and Alertmanagers take port, port+1, …),
    // below the ephemeral range where freePort() picks.
    const taken = new Set<number>();
    const block = async (size: number): Promise<number> => {
      for (;;) {
        const first = 20_000 + Math.floor(Math.random() * 10_000);
        const range = Array.from({ length: size }, (_, i) => first + i);
        if (range.some((p) => taken.has(p))) continue;
        if ((await Promise.all(range.map(portFree))).every(Boolean)) {
          for (const p of range) taken.add(p);
          return first;
        }
      }
    };
    const ports = {
      PORT: await freePort(),
      API_REPLICA_BASE_PORT: await block(6),
      LOAD_BALANCER_METRICS_PORT: await freePort(),
      PROMETHEUS_PORT: await block(2),
      ALERTMANAGER_PORT: await block(2),
      ALERTMANAGER_CLUSTER_PORT: await block(2),
      VICTORIA_METRICS_PORT: await freePort(),
      NODE_EXPORTER_PORT: await freePort(),
      REDIS_EXPORTER_PORT: await freePort(),
      POSTGRES_EXPORTER_PORT: await freePort(),
      ALERT_SINK_PORT: await freePort(),
      DASHBOARDS_PORT: await freePort(),
    };
    const envFile = join(dir, 'test.env');
    await writeFile(envFile, '');
    const settings = {
      ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
      RUN_DIR: runDir,
      DATA_DIR: join(dir, 'data'),
      ENV_FILE: envFile,
      STACK_MODE: 'native',
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      METRICS_TOKEN: token,
      QUEUE_PREFIX: prefix,
      DATABASE_URL: db.url,
      REDIS_URL,
      API_REPLICAS: '3',
      PROMETHEUS_REPLICAS: '2',
      ALERTMANAGER_REPLICAS: '2',
      ALERT_WEBHOOK_URL: receiver.url,
    };
    const env = cleanEnv(settings);
    const lb = `http://127.0.0.1:${ports.PORT}`;
    const proms = [0, 1].map((i) => `http://127.0.0.1:${ports.PROMETHEUS_PORT + i}`);
    const vm = `http://127.0.0.1:${ports.VICTORIA_METRICS_PORT}`;
    const apiInstances = [0, 1, 2].map((i) => `127.0.0.1:${ports.API_REPLICA_BASE_PORT + 2 * i}`);
    try {
      const first = await stack('up', env);
      assert.equal(first.code, 0, output(first));

      // status --json: every replica, the load balancer and each monitoring process, with url and pid.
      const status = JSON.parse((await stack('status', env, ['--json'])).stdout) as Status;
      const expected = [
        'api-1',
        'api-2',
        'api-3',
        'load-balancer',
        'prometheus-1',
        'prometheus-2',
        'alertmanager-1',
        'alertmanager-2',
        'victoria-metrics',
      ];
      for (const name of expected) {
        const service = status.services.find((s) => s.name === name);
        assert.ok(
          service?.running && service.ready && service.url && service.pid && alive(service.pid),
          `${name}: ${JSON.stringify(service)}`,
        );
      }
      assert.ok(
        !status.services.some((s) => ['api', 'prometheus', 'alertmanager'].includes(s.name)),
        'no stopped `api` beside its replicas',
      );
      assert.equal(status.services.find((s) => s.name === 'load-balancer')?.url, lb);

      // Every replica is an `up` target of both Prometheus, and so is HAProxy's exporter.
      for (const prom of proms) {
        await eventually(
          `${prom}: the three replicas and haproxy up`,
          async () => {
            const up = await query(prom, 'up{job=~"api|haproxy"} == 1');
            const instances = up.filter((s) => s.metric.job === 'api').map((s) => s.metric.instance);
            return apiInstances.every((i) => instances.includes(i)) && up.some((s) => s.metric.job === 'haproxy') ? true : undefined;
          },
          60_000,
          1000,
        );
        const config = await json<{ data: { yaml: string } }>(`${prom}/api/v1/status/config`);
        assert.match(config.data.yaml, /external_labels:\n\s+replica: prometheus-\d/);
        assert.match(config.data.yaml, /file_sd_configs:/, 'the api job reads its targets from a file');
      }
      const servers = await query(proms[0] as string, 'haproxy_backend_active_servers{proxy="api"}');
      assert.equal(servers[0]?.value[1], '3', "HAProxy's own metrics, scraped: three active servers");

      // The load balancer's panels draw from this stack (the live test's single API has no HAProxy):
      // after some traffic through it, every one of their queries answers with data.
      const lbQueries = allPanelQueries({ job: 'api', instance: '.+' }, undefined, API_CONFIG).filter((q) =>
        q.expr.includes(`job="${LOAD_BALANCER_JOB}"`),
      );
      assert.ok(lbQueries.length >= 5, 'the Infrastructure dashboard has its load balancer panels');
      let empty: string[] = [];
      await eventually(
        'every load balancer panel query to return data',
        async () => {
          for (let i = 0; i < 20; i++) await fetch(`${lb}/users?limit=1`).then((r) => r.arrayBuffer());
          empty = [];
          for (const q of lbQueries) if ((await query(proms[0] as string, q.expr)).length === 0) empty.push(`${q.panel}: ${q.expr}`);
          return empty.length === 0 ? true : undefined;
        },
        90_000,
        2000,
      ).catch((error: Error) => assert.fail(`${error.message}; still empty: ${empty.join('; ')}`));

      // The Alertmanagers see each other as peers.
      for (const i of [0, 1]) {
        const amStatus = await json<{ cluster: { status: string; peers: { address: string }[] } }>(
          `http://127.0.0.1:${ports.ALERTMANAGER_PORT + i}/api/v2/status`,
        );
        assert.equal(amStatus.cluster.status, 'ready');
        assert.deepEqual(
          amStatus.cluster.peers.map((p) => p.address).sort(),
          [0, 1].map((j) => `127.0.0.1:${ports.ALERTMANAGER_CLUSTER_PORT + j}`),
        );
      }

      // Both Prometheus send each alert to both Alertmanagers: four copies, one notification.
      const alertname = `ScaleTestDedup${randomBytes(3).toString('hex')}`;
      const alert = [
        { labels: { alertname, severity: 'critical', job: 'api', instance: 'scale-test' }, annotations: { summary: 'dedup' } },
      ];
      const postedAt = Date.now();
      for (const _prometheus of [0, 1]) {
        for (const i of [0, 1]) {
          const posted = await fetch(`http://127.0.0.1:${ports.ALERTMANAGER_PORT + i}/api/v2/alerts`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(alert),
          });
          assert.equal(posted.status, 200, await posted.text());
        }
      }
      const notificationsOf = () => receiver.notifications.filter((n) => n.body.alerts.some((a) => a.labels.alertname === alertname));

      // Round robin for new clients, a sticky cookie for the rest.
      const landed = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const response = await fetch(`${lb}/health/live`);
        await response.arrayBuffer();
        landed.add(/OBSNEST_API=([\w-]+)/.exec(response.headers.get('set-cookie') ?? '')?.[1] ?? 'none');
      }
      assert.deepEqual([...landed].sort(), ['api-1', 'api-2', 'api-3']);

      // Socket.IO long-polling through the load balancer: every poll of a session must reach the
      // replica that opened it (the cookie), and a sign-up on any replica reaches the client (Redis adapter).
      const socket = io(lb, { transports: ['polling'], withCredentials: true, reconnection: false, forceNew: true });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('connect_error', reject);
        });
        const email = `scale-${randomBytes(4).toString('hex')}@example.com`;
        const received = new Promise<{ email: string }>((resolve) =>
          socket.on('user.created', (user: { email: string }) => user.email === email && resolve(user)),
        );
        for (let i = 0; i < 3; i++) await sleep(300); // a few long-polling round trips
        assert.ok(socket.connected, 'the polling session survived several requests');
        const created = await fetch(`${lb}/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, name: 'Scale Test' }),
        });
        assert.equal(created.status, 201, await created.text());
        const event = await Promise.race([received, sleep(15_000).then(() => undefined)]);
        assert.equal(event?.email, email, 'user.created arrived over long-polling');
      } finally {
        socket.close();
      }

      // The long-term store counts each series once: the two Prometheus copies are one series.
      let lastComparison = '';
      await eventually(
        'VictoriaMetrics has every up series, once',
        async () => {
          const [inVm, inProm] = await Promise.all([query(vm, 'count(up) by (job)'), query(proms[0] as string, 'count(up) by (job)')]);
          const by = (r: typeof inVm) => JSON.stringify(Object.fromEntries(r.map((s) => [s.metric.job, s.value[1]]).sort()));
          lastComparison = `VictoriaMetrics ${by(inVm)}, prometheus-1 ${by(inProm)}`;
          return inVm.length > 0 && by(inVm) === by(inProm) ? true : undefined;
        },
        90_000,
        2000,
      ).catch((error) => assert.fail(`${error}: ${lastComparison}`));
      assert.deepEqual(await query(vm, 'count({replica!=""})'), [], 'no series keeps the replica label');
      // New series (the requests above) reach queries on VictoriaMetrics after its latency offset (30 s).
      const selector = 'count({__name__=~"up|http_requests_total|haproxy_server_status"})';
      let seriesCounts = '';
      await eventually(
        'the same number of series in VictoriaMetrics as in one Prometheus',
        async () => {
          const [inVm, inProm] = await Promise.all([query(vm, selector), query(proms[0] as string, selector)]);
          seriesCounts = `VictoriaMetrics ${inVm[0]?.value[1]}, prometheus-1 ${inProm[0]?.value[1]}`;
          return inVm[0]?.value[1] !== undefined && inVm[0]?.value[1] === inProm[0]?.value[1] ? true : undefined;
        },
        60_000,
        2000,
      ).catch((error) => assert.fail(`${error}: ${seriesCounts}`));
      t.diagnostic(`series: ${seriesCounts}`);

      // SIGTERM: the replica turns unready, HAProxy takes it out, then it stops: nothing fails.
      const pids = recordedPids(runDir);
      const graceful = load(`${lb}/health/live`, 4);
      await sleep(1000);
      const stopping = pids.get('api-2') as number;
      process.kill(stopping, 'SIGTERM');
      await eventually('api-2 to exit', () => (alive(stopping) ? undefined : true), 30_000, 100);
      await sleep(1000);
      const drained = await graceful.stop();
      t.diagnostic(`SIGTERM of one replica under load: ${drained.failed} of ${drained.sent} requests failed`);
      assert.equal(drained.failed, 0, JSON.stringify([...drained.errors]));

      // `up` brings the missing replica back; HAProxy and Prometheus keep running.
      const again = await stack('up', env);
      assert.equal(again.code, 0, output(again));
      assert.match(again.stdout, /api-2\s.*started/);
      for (const name of ['load-balancer', 'prometheus-1', 'prometheus-2', 'api-1', 'api-3'])
        assert.equal(recordedPids(runDir).get(name), pids.get(name), `${name} not restarted`);

      // SIGKILL: only the requests in flight on it may fail (GETs are retried on another replica).
      await eventually(
        'HAProxy to count api-2 back in',
        async () =>
          (await query(proms[0] as string, 'haproxy_backend_active_servers{proxy="api"}'))[0]?.value[1] === '3' ? true : undefined,
        40_000,
        1000,
      ).catch(() => undefined);
      const brutal = load(`${lb}/health/live`, 4);
      await sleep(1000);
      process.kill(pids.get('api-3') as number, 'SIGKILL');
      await sleep(3000);
      const killed = await brutal.stop();
      t.diagnostic(`SIGKILL of one replica under load: ${killed.failed} of ${killed.sent} requests failed`);
      assert.ok(killed.failed <= 4, `at most the 4 in flight failed: ${JSON.stringify([...killed.errors])}`);

      // The cluster notified once: the critical route's group_wait (10 s), then the second
      // Alertmanager's wait for its peer (peer_timeout, 15 s) has passed, and it found the entry
      // in the shared notification log.
      await eventually('the test alert notified', () => (notificationsOf().length > 0 ? true : undefined), 60_000, 500);
      await sleep(Math.max(0, postedAt + 40_000 - Date.now()));
      t.diagnostic(`4 copies of one alert sent, ${notificationsOf().length} notification(s) received`);
      assert.equal(notificationsOf().length, 1, 'one notification per alert group, not one per Alertmanager');

      // Rolling restart of every replica (SIGTERM, `up` starts it again, HAProxy counts it back in) under load: nothing fails.
      const activeServers = async () => {
        const text = await (await fetch(`http://127.0.0.1:${ports.LOAD_BALANCER_METRICS_PORT}/metrics`)).text();
        return Number(/^haproxy_backend_active_servers\{proxy="api"\} (\d+)/m.exec(text)?.[1]);
      };
      const restored = await stack('up', env);
      assert.equal(restored.code, 0, output(restored));
      await eventually('three replicas in the pool', async () => ((await activeServers()) === 3 ? true : undefined), 30_000, 250);
      const rolling = load(`${lb}/health/live`, 4);
      const rollStarted = Date.now();
      for (const name of ['api-1', 'api-2', 'api-3']) {
        const pid = recordedPids(runDir).get(name) as number;
        process.kill(pid, 'SIGTERM');
        await eventually(`${name} to exit`, () => (alive(pid) ? undefined : true), 30_000, 100);
        const back = await stack('up', env);
        assert.equal(back.code, 0, output(back));
        await eventually(`${name} back in the pool`, async () => ((await activeServers()) === 3 ? true : undefined), 30_000, 250);
      }
      const rolled = await rolling.stop();
      t.diagnostic(
        `rolling restart of 3 replicas in ${((Date.now() - rollStarted) / 1000).toFixed(0)} s under load: ${rolled.failed} of ${rolled.sent} requests failed`,
      );
      assert.equal(rolled.failed, 0, JSON.stringify([...rolled.errors]));

      // One Prometheus killed: the other keeps writing, the long-term store has no gap.
      const killedAt = Math.floor(Date.now() / 1000);
      process.kill(recordedPids(runDir).get('prometheus-1') as number, 'SIGKILL');
      // One Alertmanager killed: an alert sent to the survivor (as both Prometheus do) is notified, once.
      process.kill(recordedPids(runDir).get('alertmanager-1') as number, 'SIGKILL');
      const survivorAlert = `ScaleTestSurvivor${randomBytes(3).toString('hex')}`;
      for (const _prometheus of [0, 1]) {
        const posted = await fetch(`http://127.0.0.1:${ports.ALERTMANAGER_PORT + 1}/api/v2/alerts`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify([{ labels: { alertname: survivorAlert, severity: 'critical', job: 'api', instance: 'scale-test' } }]),
        });
        assert.equal(posted.status, 200);
      }
      const survivorNotifications = () =>
        receiver.notifications.filter((n) => n.body.alerts.some((a) => a.labels.alertname === survivorAlert));
      await eventually('the survivor to notify', () => (survivorNotifications().length > 0 ? true : undefined), 60_000, 500);
      // 60 s after the kill, and VictoriaMetrics' 30 s latency offset on top.
      await sleep(Math.max(0, (killedAt + 90) * 1000 - Date.now()));
      t.diagnostic(`one Alertmanager killed: ${survivorNotifications().length} notification(s) of the next alert`);
      assert.equal(survivorNotifications().length, 1);
      const range = await json<{ data: { result: { values: [number, string][] }[] } }>(
        `${vm}/api/v1/query_range?query=${encodeURIComponent('count_over_time(up{job="node"}[20s])')}&start=${killedAt - 30}&end=${killedAt + 60}&step=10`,
      );
      const points = range.data.result[0]?.values ?? [];
      t.diagnostic(`one Prometheus killed: ${points.length} of 10 points of node's up in VictoriaMetrics around the kill`);
      assert.equal(points.length, 10, `no gap: ${JSON.stringify(points)}`);
      assert.ok(points.every(([, v]) => Number(v) >= 1));
      const recovered = await stack('up', env);
      assert.equal(recovered.code, 0, output(recovered));
      assert.match(recovered.stdout, /prometheus-1\s.*started/);
      assert.match(recovered.stdout, /alertmanager-1\s.*started/);

      // Two replicas: the targets file changes, Prometheus follows without a restart or reload.
      const promPids = new Map(['prometheus-1', 'prometheus-2'].map((name) => [name, recordedPids(runDir).get(name)]));
      const smaller = await stack('up', cleanEnv({ ...settings, API_REPLICAS: '2' }));
      assert.equal(smaller.code, 0, output(smaller));
      const targetsFile = JSON.parse(readFileSync(join(runDir, 'api-targets.json'), 'utf8')) as { targets: string[] }[];
      assert.deepEqual(targetsFile[0]?.targets, apiInstances.slice(0, 2));
      for (const name of ['prometheus-1', 'prometheus-2'])
        assert.equal(recordedPids(runDir).get(name), promPids.get(name), `${name} not restarted`);
      await eventually(
        'both Prometheus down to two api targets',
        async () => {
          // Targets, not `up`: prometheus-1 was SIGKILLed above, so its last api-3 samples have no
          // staleness marker and stay visible to instant queries for 5 minutes.
          const counts = await Promise.all(
            proms.map(async (prom) => {
              const body = await json<{ data: { activeTargets: { labels: Record<string, string> }[] } }>(
                `${prom}/api/v1/targets?state=active`,
              );
              return body.data.activeTargets.filter((target) => target.labels.job === 'api').length;
            }),
          );
          return counts.every((c) => c === 2) ? true : undefined;
        },
        30_000,
        1000,
      );
    } finally {
      const down = await stack('down', env);
      const leftovers = killLeftovers(runDir);
      await deleteRedisKeys(prefix).catch(() => undefined);
      await db.drop().catch(() => undefined);
      await receiver.close();
      await rm(dir, { recursive: true, force: true });
      assert.equal(down.code, 0, output(down));
      assert.deepEqual(leftovers, [], 'down left processes behind');
    }
  });
});
