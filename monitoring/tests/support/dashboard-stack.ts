import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from '@obsnest/testkit';
import { io, type Socket } from 'socket.io-client';
import { JOBS } from '../../grafana/src/scrape-targets.js';
import { type Command, nodeExporterCommand, postgresExporterCommand, redisExporterCommand } from '../../runtime/native.js';
import { renderPrometheusConfig } from '../../runtime/prometheus-config.js';
import { ApiProcess, createDatabase, deleteRedisKeys, REDIS_URL, type TempDatabase, writeTestRules } from './live.js';
import { type RunningPrometheus, startPrometheus } from './prometheus.js';
import { cleanEnv } from './run.js';
import { type RunningService, startService, teardown } from './service.js';

/**
 * What the dashboards need to show data: the API with PostgreSQL and Redis, the three exporters,
 * Prometheus with the committed rules scraping them every second, and the dashboards viewer
 * (its package's bin) in front of Prometheus. Traffic runs in the background until stop().
 */

export const SCRAPE_INTERVAL = '1s';

export interface DashboardStack {
  readonly prometheus: RunningPrometheus;
  readonly viewer: RunningService;
  readonly api: ApiProcess;
  /** `127.0.0.1:<port>` of the API: the value of the instance variable. */
  readonly apiInstance: string;
  /** Requests the traffic loop has sent so far. */
  requestsSent(): number;
  stop(): Promise<void>;
}

/** The viewer's bin, from its package.json: workspaces use each other through bins. */
export function viewerBin(): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('@obsnest/dashboards-viewer/package.json');
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> };
  return join(dirname(manifest), bin['obsnest-dashboards'] as string);
}

/** The viewer in front of `prometheusUrl`; `args` adds flags, e.g. ['--dashboards', dir]. */
export function startViewer(prometheusUrl: string, args: readonly string[] = []): Promise<RunningService> {
  return startService({
    name: 'dashboards-viewer',
    command: process.execPath,
    args: (port) => [viewerBin(), '--port', String(port), '--prometheus-url', prometheusUrl, '--scrape-interval', SCRAPE_INTERVAL, ...args],
    readyPath: '/healthz',
    // A first start bundles the page (esbuild) when the bundle is missing or stale.
    readyTimeoutMs: 120_000,
  });
}

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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startDashboardStack(): Promise<DashboardStack> {
  const dir = await mkdtemp(join(tmpdir(), 'obsnest-dashboards-'));
  const prefix = `obsnest-dash-${randomBytes(5).toString('hex')}`;
  const services: RunningService[] = [];
  const sockets: Socket[] = [];
  let db: TempDatabase | undefined;
  let api: ApiProcess | undefined;
  let prometheus: RunningPrometheus | undefined;
  let stopTraffic = false;
  let traffic: Promise<void> = Promise.resolve();
  let sent = 0;
  const stop = () =>
    teardown([
      () => {
        stopTraffic = true;
        for (const socket of sockets) socket.disconnect();
        return traffic;
      },
      ...services.map((service) => () => service.stop()),
      () => prometheus?.stop(),
      () => api?.kill('SIGTERM'),
      () => db?.drop(),
      () => deleteRedisKeys(prefix),
      () => rm(dir, { recursive: true, force: true }),
    ]);
  try {
    db = await createDatabase();
    const token = randomBytes(24).toString('hex');
    const apiPort = await freePort();
    const apiInstance = `127.0.0.1:${apiPort}`;
    api = new ApiProcess(
      { NODE_ENV: 'test', DATABASE_URL: db.url, REDIS_URL, QUEUE_PREFIX: prefix, DATA_DIR: join(dir, 'data'), METRICS_TOKEN: token },
      apiPort,
    );
    const [, node, postgres, redis] = await Promise.all([
      api.start(),
      exporter('node-exporter', (port) => nodeExporterCommand('127.0.0.1', port)),
      exporter('postgres-exporter', (port) => postgresExporterCommand('127.0.0.1', port, (db as TempDatabase).url)),
      exporter('redis-exporter', (port) => redisExporterCommand('127.0.0.1', port, REDIS_URL)),
    ]);
    services.push(node, postgres, redis);
    const tokenFile = join(dir, 'metrics_token');
    await writeFile(tokenFile, token, { mode: 0o600 });
    // The committed rules, every group evaluated at the 1 s global interval: the SLO panels read
    // recording rules that would otherwise first appear minutes after the start.
    const rules = await writeTestRules(dir, {});
    prometheus = await startPrometheus({
      config: (port) =>
        renderPrometheusConfig({
          targets: {
            [JOBS.api]: [apiInstance],
            [JOBS.prometheus]: [`127.0.0.1:${port}`],
            [JOBS.node]: [`127.0.0.1:${node.port}`],
            [JOBS.postgres]: [`127.0.0.1:${postgres.port}`],
            [JOBS.redis]: [`127.0.0.1:${redis.port}`],
          },
          dropJobs: [JOBS.alertmanager],
          credentialsFile: tokenFile,
          ruleFiles: [rules],
          alertmanagers: [],
          scrapeInterval: SCRAPE_INTERVAL,
          evaluationInterval: SCRAPE_INTERVAL,
        }),
    });
    const viewer = await startViewer(prometheus.url);
    services.unshift(viewer);

    const running = api;
    for (let i = 0; i < 2; i++) {
      sockets.push(
        await new Promise<Socket>((resolve, reject) => {
          const socket = io(running.url, { transports: ['websocket'], reconnection: false, forceNew: true });
          socket.once('connect', () => resolve(socket));
          socket.once('connect_error', reject);
        }),
      );
    }
    // Steady traffic, as a live service has: users listed and created (emails queued), a 404.
    traffic = (async () => {
      let users = 0;
      while (!stopTraffic) {
        await Promise.all([
          fetch(`${running.url}/users?limit=5`).then((r) => r.arrayBuffer()),
          fetch(`${running.url}/no/such/path`).then((r) => r.arrayBuffer()),
          fetch(`${running.url}/users`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ email: `dash${users++}@example.com`, name: 'Dash' }),
          }).then((r) => r.arrayBuffer()),
        ]).catch(() => undefined);
        sent += 3;
        await sleep(200);
      }
    })();
    const started = { prometheus, viewer, api, apiInstance, requestsSent: () => sent, stop };
    return started;
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
