import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { LOAD_BALANCER_JOB } from '../grafana/src/dashboards/load-balancer.js';
import { allPanelQueries, type PanelQuery } from '../grafana/src/panel-queries.js';
import { JOBS } from '../grafana/src/scrape-targets.js';
import { API_CONFIG } from '../src/repo/api.js';
import { type Command, nodeExporterCommand, postgresExporterCommand, redisExporterCommand } from '../runtime/native.js';
import { renderPrometheusConfig } from '../runtime/prometheus-config.js';
import { type RunningAlertmanager, startAlertmanager } from './support/alerting.js';
import {
  ApiProcess,
  createDatabase,
  deleteRedisKeys,
  eventually,
  holdTableLock,
  type Notification,
  REDIS_URL,
  renderTestAlertmanagerConfig,
  startWebhookReceiver,
  type TempDatabase,
  writeTestRules,
} from './support/live.js';
import { type PrometheusResponse, type RunningPrometheus, startPrometheus } from './support/prometheus.js';
import { RUNBOOK_BASE_URL } from './support/rules.js';
import { cleanEnv } from './support/run.js';
import { freePort, type RunningService, startService, teardown } from './support/service.js';

/**
 * The whole pipeline, live: the real API on the machine's PostgreSQL and Redis, node-, postgres-
 * and redis-exporter, a real Prometheus with the project's prometheus.yml (rendered as the native
 * stack renders it) and rules, a real Alertmanager with the project's routing, and a webhook
 * receiver run by this test.
 *
 * Differences from production, all about time:
 *   - scrape and evaluation every second (renderPrometheusConfig's scrapeInterval and
 *     evaluationInterval), and the rule groups' own `interval` (1m, 5m for the long SLO windows)
 *     removed, so every recording rule has values within seconds;
 *   - ApiTargetDown fires after 5 s instead of its committed `for: 1m`; no other rule changes;
 *   - Alertmanager waits 1 s (group_wait, group_interval) instead of 10 s to 10 min.
 */

/** Verification queries of the seed guide (004), run as written. */
const SEED_QUERIES = [
  'http_requests_total',
  'websocket_connections',
  'queue_jobs_completed_total',
  'queue_jobs_failed_total',
  'rate(http_requests_total[5m])',
  'histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m]))',
];

/**
 * Panels that cannot have data before an alert fires: they list firing alerts (the always-firing
 * Watchdog left out). The first test only checks that Prometheus accepts their queries; the
 * alerting test checks they return the ApiTargetDown alert while it fires. No other exception.
 */
const NEED_A_FIRING_ALERT = new Set(['Firing Alerts', 'Firing Alerts List']);

const TEST_FOR = { ApiTargetDown: '5s' };
/** Sane upper bound for fault → notification and recovery → resolved notification. */
const NOTIFICATION_BOUND_MS = 60_000;

type Sample = { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] };

/** Why a query's answer is not "data", or undefined when it is: an error, nothing, or NaN only. */
function problemOf(response: PrometheusResponse): string | undefined {
  if (response.status !== 'success') return `error: ${response.errorType}: ${response.error}`;
  const data = response.data;
  if (!data) return 'no data field';
  if (data.resultType === 'scalar' || data.resultType === 'string') {
    const value = (data.result as unknown as [number, string])[1];
    return value === 'NaN' ? 'NaN' : undefined;
  }
  const samples = data.result as Sample[];
  if (samples.length === 0) return 'empty result';
  const values = samples.flatMap((s) => (s.value ? [s.value[1]] : (s.values ?? []).map((v) => v[1])));
  return values.some((v) => v !== 'NaN') ? undefined : 'only NaN values';
}

function connect(url: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });

const get = async (url: string) => {
  const started = performance.now();
  const response = await fetch(url);
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
};

/** Services started by a helper that owns its temporary directory. */
function exporter(name: string, build: (port: number) => Command): Promise<RunningService> {
  const probe = build(0);
  return startService({
    name,
    command: probe.argv[0] as string,
    args: (port) => build(port).argv.slice(1),
    env: (port) => cleanEnv({ ...build(port).env }),
    readyPath: probe.readyPath,
  });
}

describe('live: API, exporters, Prometheus, Alertmanager', { timeout: 170_000 }, () => {
  let dir: string;
  let db: TempDatabase | undefined;
  const prefix = `obsnest-live-${randomBytes(5).toString('hex')}`;
  let api: ApiProcess | undefined;
  const services: RunningService[] = [];
  let alertmanager: RunningAlertmanager | undefined;
  let prometheus: RunningPrometheus | undefined;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>> | undefined;
  const sockets: Socket[] = [];
  let apiInstance: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'obsnest-live-'));
    db = await createDatabase();
    const token = randomBytes(24).toString('hex');
    const apiPort = await freePort();
    apiInstance = `127.0.0.1:${apiPort}`;
    api = new ApiProcess(
      {
        NODE_ENV: 'test',
        DATABASE_URL: db.url,
        REDIS_URL,
        QUEUE_PREFIX: prefix,
        DATA_DIR: join(dir, 'data'),
        LOG_LEVEL: 'info',
        EMAIL_JOB_BACKOFF_MS: '50',
        METRICS_TOKEN: token,
        // A small pool that gives up quickly: a locked table then turns into slow requests and
        // 503s, the way a stuck migration shows up in production.
        DB_POOL_MAX: '2',
        DB_CONNECT_TIMEOUT_MS: '250',
      },
      apiPort,
    );
    const [, node, postgres, redis] = await Promise.all([
      api.start(),
      exporter('node-exporter', (port) => nodeExporterCommand('127.0.0.1', port)),
      exporter('postgres-exporter', (port) => postgresExporterCommand('127.0.0.1', port, (db as TempDatabase).url)),
      exporter('redis-exporter', (port) => redisExporterCommand('127.0.0.1', port, REDIS_URL)),
    ]);
    services.push(node, postgres, redis);
    receiver = await startWebhookReceiver();
    alertmanager = await startAlertmanager(await renderTestAlertmanagerConfig(dir, receiver.url));
    const tokenFile = join(dir, 'metrics_token');
    await writeFile(tokenFile, token, { mode: 0o600 });
    const rules = await writeTestRules(dir, TEST_FOR);
    const am = `127.0.0.1:${(alertmanager as RunningAlertmanager).port}`;
    prometheus = await startPrometheus({
      config: (port) =>
        renderPrometheusConfig({
          targets: {
            [JOBS.api]: [apiInstance],
            [JOBS.prometheus]: [`127.0.0.1:${port}`],
            [JOBS.alertmanager]: [am],
            [JOBS.node]: [`127.0.0.1:${node.port}`],
            [JOBS.postgres]: [`127.0.0.1:${postgres.port}`],
            [JOBS.redis]: [`127.0.0.1:${redis.port}`],
          },
          credentialsFile: tokenFile,
          ruleFiles: [rules],
          alertmanagers: [am],
          scrapeInterval: '1s',
          evaluationInterval: '1s',
        }),
    });
  });

  after(async () => {
    for (const socket of sockets) socket.disconnect();
    await teardown([
      () => api?.kill('SIGTERM'),
      () => prometheus?.stop(),
      () => alertmanager?.stop(),
      ...services.map((service) => () => service.stop()),
      () => receiver?.close(),
      () => db?.drop(),
      () => deleteRedisKeys(prefix),
      () => (dir ? rm(dir, { recursive: true, force: true }) : undefined),
    ]);
  });

  /** Runs every query; returns the ones without data, with why. */
  async function withoutData(queries: readonly { label: string; expr: string }[]): Promise<string[]> {
    const prom = prometheus as RunningPrometheus;
    const results = await Promise.all(queries.map(async (q) => ({ q, problem: problemOf(await prom.query(q.expr)) })));
    return results.filter((r) => r.problem).map((r) => `${r.q.label}: ${r.problem}\n    ${r.q.expr}`);
  }

  const label = (q: PanelQuery) => `${q.dashboard} / ${q.panel} / ${q.refId}`;
  // This stack runs one API and no load balancer: the HAProxy panels are proven with data by
  // scale.test.ts, which runs three replicas behind HAProxy.
  const behindLoadBalancer = (q: PanelQuery) => q.expr.includes(`job="${LOAD_BALANCER_JOB}"`);
  const panelQueries = () =>
    allPanelQueries({ job: JOBS.api, instance: apiInstance }, undefined, API_CONFIG).filter((q) => !behindLoadBalancer(q));

  it('answers every dashboard panel query and every verification query of the seed guide with data', async (t) => {
    const running = api as ApiProcess;
    // Socket.IO: three clients, messages, one leaves; two stay connected for the gauge.
    for (let i = 0; i < 3; i++) sockets.push(await connect(running.url));
    sockets[0]?.emit('hello', { n: 1 });
    sockets[1]?.emit('hello', { n: 2 });
    sockets.pop()?.disconnect();

    // Steady background traffic until the queries are done, as a live service has: a counter
    // series that appears and never moves again has no rate, and Prometheus cannot see the
    // increments made before its first scrape of a series.
    let users = 0;
    let stopTraffic = false;
    let pauseTraffic = false;
    let inFlight: Promise<unknown> = Promise.resolve();
    const statuses = new Map<number, number>();
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const traffic = (async () => {
      while (!stopTraffic) {
        if (!pauseTraffic) {
          const round = Promise.all([
            get(`${running.url}/users?limit=5`),
            get(`${running.url}/no/such/path`),
            post(`${running.url}/users`, { email: `live${users++}@example.com`, name: 'Live' }).then((status) => ({ status })),
          ]);
          inFlight = round;
          for (const { status } of await round) count(status);
        }
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    })();

    try {
      // The usual client errors.
      assert.equal(await post(`${running.url}/users`, { email: 'not-an-email', name: 'x' }), 400);
      assert.equal((await get(`${running.url}/users/00000000-0000-4000-8000-000000000000`)).status, 404);
      // Welcome emails to a reserved .invalid domain fail all their attempts: failed jobs.
      for (let i = 0; i < 3; i++) {
        assert.equal(await post(`${running.url}/users`, { email: `nobody${i}@mail.invalid`, name: 'Nobody' }), 201);
        await new Promise((resolve) => setTimeout(resolve, 1200));
      }

      // Errors and slow requests, for real: another session holds a lock on the users table (as
      // a long migration would) while 12 requests list users. Those that get one of the pool's two
      // connections wait for the lock (slow 200s); the others find no free connection within
      // DB_CONNECT_TIMEOUT_MS and answer 503. In at least two rounds, more than a scrape apart, so
      // the 5xx and slow-request counters move between scrapes: rate() sees no increase in a series
      // whose only samples all came after its one burst (a new 503 series starts at its total).
      // The background traffic pauses meanwhile, so the pool's connections go to these requests.
      pauseTraffic = true;
      await inFlight;
      let slow = 0;
      let unavailable = 0;
      let roundsWith503 = 0;
      let roundsWithSlow = 0;
      for (let round = 0; round < 6 && (round < 2 || roundsWith503 < 2 || roundsWithSlow < 2); round++) {
        const lock = await holdTableLock((db as TempDatabase).url, 'users', 1500);
        const answers = await Promise.all(Array.from({ length: 12 }, () => get(`${running.url}/users?limit=5`)));
        await lock.released;
        const slowNow = answers.filter((a) => a.status === 200 && a.ms > 500).length;
        const unavailableNow = answers.filter((a) => a.status === 503).length;
        slow += slowNow;
        unavailable += unavailableNow;
        if (slowNow > 0) roundsWithSlow++;
        if (unavailableNow > 0) roundsWith503++;
        t.diagnostic(`table lock ${round + 1}: ${answers.map((a) => `${a.status}/${Math.round(a.ms)}ms`).join(' ')}`);
        // At least two 1 s scrapes before the next burst, however late they run under load.
        await new Promise((resolve) => setTimeout(resolve, 2500));
      }
      pauseTraffic = false;
      assert.ok(slow >= 1, 'requests waited for the lock for more than the 0.5 s latency SLO bound');
      assert.ok(unavailable >= 1, 'requests answered 5xx');

      const queries = [
        ...panelQueries().map((q) => ({ label: label(q), expr: q.expr, panel: q.panel })),
        ...SEED_QUERIES.map((expr) => ({ label: `seed guide: ${expr}`, expr, panel: '' })),
      ];
      const expectData = queries.filter((q) => !NEED_A_FIRING_ALERT.has(q.panel));
      const alertPanels = queries.filter((q) => NEED_A_FIRING_ALERT.has(q.panel));
      assert.equal(alertPanels.length, NEED_A_FIRING_ALERT.size, 'each exception names an existing panel with one query');

      // Scrapes and rule evaluations run every second: poll until every query has data.
      let missing: string[] = [];
      const started = Date.now();
      await eventually(
        'every panel and seed query to return data',
        async () => {
          missing = await withoutData(expectData);
          return missing.length === 0;
        },
        60_000,
        1000,
      ).catch(() => undefined);
      assert.deepEqual(missing, [], `queries without data after ${Math.round((Date.now() - started) / 1000)} s`);
      t.diagnostic(
        `${expectData.length} queries returned data (${panelQueries().length} panel queries, ${SEED_QUERIES.length} seed queries)`,
      );

      // The faults are visible as such: the SLIs count the 503s and the requests slower than 0.5 s.
      for (const sli of ['job:slo_errors_per_request:ratio_rate5m', 'job:slo_slow_requests_per_request:ratio_rate5m']) {
        await eventually(
          `${sli} > 0`,
          async () => ((await prometheus?.query(`${sli}{job="api"} > 0`))?.data?.result.length ?? 0) > 0,
          15_000,
        );
      }

      // The exceptions still run without error (their data is checked by the alerting test).
      const prom = prometheus as RunningPrometheus;
      for (const q of alertPanels) assert.equal((await prom.query(q.expr)).status, 'success', q.label);
      t.diagnostic(`background traffic: ${[...statuses].map(([status, n]) => `${n}×${status}`).join(', ')}`);
    } finally {
      stopTraffic = true;
      await traffic;
    }
  });

  it('sends ApiTargetDown through Alertmanager to the webhook when the API dies, and resolved once it is back', async (t) => {
    const running = api as ApiProcess;
    const hook = receiver as NonNullable<typeof receiver>;
    const prom = prometheus as RunningPrometheus;
    const isTargetDown = (alert: Notification['body']['alerts'][number], status: string) =>
      alert.labels.alertname === 'ApiTargetDown' && alert.status === status;
    const notified = (since: number, status: string) =>
      hook.notifications.find((n) => n.receivedAt >= since && n.body.alerts.some((a) => isTargetDown(a, status)));

    await eventually('the api target to be up', async () => (await prom.query(`up{job="api"} == 1`)).data?.result.length === 1, 15_000);
    assert.equal(notified(0, 'firing'), undefined, 'no ApiTargetDown before the fault');

    // The fault: the process dies without a chance to say goodbye.
    const fault = Date.now();
    await running.kill('SIGKILL');
    const firing = await eventually('the firing notification', () => notified(fault, 'firing'), NOTIFICATION_BOUND_MS, 100);
    const toNotification = firing.receivedAt - fault;

    const alert = firing.body.alerts.find((a) => isTargetDown(a, 'firing'));
    assert.ok(alert);
    assert.equal(firing.body.receiver, 'webhook');
    assert.equal(alert.labels.job, JOBS.api);
    assert.equal(alert.labels.instance, apiInstance);
    assert.equal(alert.labels.severity, 'critical');
    assert.equal(alert.annotations.runbook_url, `${RUNBOOK_BASE_URL}apitargetdown`);
    assert.match(alert.annotations.summary ?? '', new RegExp(apiInstance.replace(/\./g, '\\.')));

    // While it fires, the dashboards' alert panels list it.
    const alertPanels = panelQueries().filter((q) => NEED_A_FIRING_ALERT.has(q.panel));
    assert.deepEqual(await withoutData(alertPanels.map((q) => ({ label: label(q), expr: q.expr }))), []);
    const listed = await prom.query(alertPanels.find((q) => q.panel === 'Firing Alerts List')?.expr ?? '');
    assert.ok(
      ((listed.data?.result ?? []) as Sample[]).some((s) => s.metric.alertname === 'ApiTargetDown' && s.metric.instance === apiInstance),
      'the Firing Alerts List panel shows ApiTargetDown',
    );

    // Recovery: the same API back on the same port.
    await running.start();
    const recovered = Date.now();
    const resolved = await eventually('the resolved notification', () => notified(recovered, 'resolved'), NOTIFICATION_BOUND_MS, 100);
    const toResolved = resolved.receivedAt - recovered;

    const summary = `fault → firing notification: ${(toNotification / 1000).toFixed(1)} s; recovery → resolved notification: ${(toResolved / 1000).toFixed(1)} s (scrape and evaluation every 1 s, for: ${TEST_FOR.ApiTargetDown}, group_wait 1 s)`;
    t.diagnostic(summary);
    console.log(`[live alerting] ${summary}`);
    assert.ok(toNotification < NOTIFICATION_BOUND_MS, summary);
    assert.ok(toResolved < NOTIFICATION_BOUND_MS, summary);
  });
});
