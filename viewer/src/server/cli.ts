import { parseArgs } from 'node:util';
import { bundleIsStale, PUBLIC_DIR } from '../build/paths.js';
import { createViewerServer } from './app.js';
import { defaultDashboardsDir, loadDashboards } from './dashboards.js';
import { durationSeconds } from './routing.js';

const USAGE = `usage: obsnest-dashboards [--port 3001] [--host 127.0.0.1] [--prometheus-url http://127.0.0.1:9090]
                          [--long-term-url http://127.0.0.1:8428 [--long-term-after 30d]]
                          [--scrape-interval 15s] [--dashboards DIR] [--rebundle]

Serves the Perses dashboards (default: those committed in @obsnest/monitoring) at http://HOST:PORT/,
one at /d/<uid>, proxies /api/v1/* to Prometheus, and answers GET /healthz with 200 once listening.
With --long-term-url, a query reading further back than --long-term-after (Prometheus' retention,
default 15d as Prometheus') goes to that long-term store instead; the page lets a user pick either.`;

export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string', default: '3001' },
      host: { type: 'string', default: '127.0.0.1' },
      'prometheus-url': { type: 'string', default: 'http://127.0.0.1:9090' },
      'long-term-url': { type: 'string' },
      'long-term-after': { type: 'string', default: '15d' },
      'scrape-interval': { type: 'string', default: '15s' },
      dashboards: { type: 'string' },
      rebundle: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${values.port}: not a port number`);
  const prometheusUrl = new URL(values['prometheus-url']).toString().replace(/\/$/, '');
  const longTermUrl = values['long-term-url'] && new URL(values['long-term-url']).toString().replace(/\/$/, '');
  const longTermAfterSeconds = durationSeconds(values['long-term-after']);
  if (!longTermAfterSeconds) throw new Error(`--long-term-after ${values['long-term-after']}: not a duration like 30d`);
  if (!/^\d+[smh]$/.test(values['scrape-interval']))
    throw new Error(`--scrape-interval ${values['scrape-interval']}: not a duration like 15s`);

  // The bundle is made at build time; a checkout that skipped that step, or changed the page since, gets it here.
  if (values.rebundle || bundleIsStale()) {
    // esbuild and the page's packages are build-time dependencies: loaded only to bundle.
    const { bundle } = await import('../build/bundle.js');
    const result = await bundle();
    console.log(`bundled the page: ${(result.bytes / 1024 / 1024).toFixed(1)} MiB`);
  }
  const dashboardsDir = values.dashboards ?? defaultDashboardsDir();
  const dashboards = loadDashboards(dashboardsDir);
  const server = createViewerServer({
    prometheusUrl,
    ...(longTermUrl ? { routing: { longTermUrl, longTermAfterSeconds } } : {}),
    publicDir: PUBLIC_DIR,
    dashboards,
    scrapeInterval: values['scrape-interval'],
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, values.host, resolve);
  });
  const address = server.address();
  const listening = typeof address === 'object' && address ? address.port : port;
  const store = longTermUrl ? `, long-term store ${longTermUrl} beyond ${values['long-term-after']}` : '';
  console.log(
    `dashboards viewer on http://${values.host}:${listening}/ (${dashboards.length} dashboards, Prometheus ${prometheusUrl}${store})`,
  );
  const stop = () => server.close(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
