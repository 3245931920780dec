import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, type TempDir, tempDir, waitFor } from '@obsnest/testkit';
import { createViewerServer, SOURCE_HEADER } from '../src/server/app.js';
import { defaultDashboardsDir, loadDashboards } from '../src/server/dashboards.js';
import { earliestRead, lookbackSeconds, sourceFor } from '../src/server/routing.js';

/**
 * The viewer's routing between Prometheus and the long-term store. A real Prometheus scrapes
 * itself (so `up{job="prometheus"}` is in Prometheus only, for the last seconds); a real
 * VictoriaMetrics holds a series imported with samples from three days ago, which Prometheus never
 * had. Which backend answered is read from the data, and from the header the proxy adds.
 */

const DAY = 86_400;

describe('query routing (pure)', () => {
  it('adds up range selectors, subquery ranges and offsets, compound durations included', () => {
    assert.equal(lookbackSeconds('up'), 0);
    assert.equal(lookbackSeconds('rate(x[5m])'), 300);
    assert.equal(lookbackSeconds('max_over_time(rate(x[5m])[1h:1m])'), 3900);
    assert.equal(lookbackSeconds('sum(increase(x[1h30m] offset 1d))'), 5400 + DAY);
    assert.equal(lookbackSeconds('x{route="/users/:id"}'), 0, 'a label value is no range');
  });

  it('reads the earliest time from start or time, form or URL, minus the lookback', () => {
    const now = 1_800_000_000;
    const params = (entries: Record<string, string>) => new URLSearchParams(entries);
    assert.equal(earliestRead('/api/v1/query_range', params({ query: 'rate(x[5m])', start: '1000', end: '2000' }), now), 700);
    assert.equal(earliestRead('/api/v1/query', params({ query: 'x[1d]' }), now), now - DAY, 'an instant query without time is at now');
    assert.equal(earliestRead('/api/v1/query', params({ query: 'x', time: '2027-01-15T08:00:00Z' }), now), 1_800_000_000);
    assert.equal(earliestRead('/api/v1/query', params({ query: 'x @ 1000' }), now), 1000);
    assert.equal(earliestRead('/api/v1/series', params({ 'match[]': 'up', start: '5' }), now), 5);
    assert.equal(earliestRead('/api/v1/label/job/values', params({ start: '5' }), now), 5);
    assert.equal(earliestRead('/api/v1/series', params({ 'match[]': 'up' }), now), undefined, 'all of history: Prometheus');
    assert.equal(earliestRead('/api/v1/status/buildinfo', params({}), now), undefined);
    assert.equal(earliestRead('/api/v1/query_exemplars', params({ query: 'x', start: '5' }), now), undefined, 'exemplars: Prometheus');
  });

  it('sends what reads beyond Prometheus retention to the store, everything to Prometheus without one', () => {
    const now = 1_800_000_000;
    const routing = { longTermUrl: 'http://store', longTermAfterSeconds: 30 * DAY };
    const range = (start: number, query = 'up') => new URLSearchParams({ query, start: String(start), end: String(now) });
    assert.equal(sourceFor('/api/v1/query_range', range(now - 7 * DAY), routing, now), 'prometheus');
    assert.equal(sourceFor('/api/v1/query_range', range(now - 30 * DAY), routing, now), 'prometheus', 'the retention itself is kept');
    assert.equal(sourceFor('/api/v1/query_range', range(now - 31 * DAY), routing, now), 'long-term');
    assert.equal(sourceFor('/api/v1/query_range', range(now - 29 * DAY, 'rate(x[2d])'), routing, now), 'long-term', 'its window too');
    assert.equal(sourceFor('/api/v1/query_range', range(now - 90 * DAY), { longTermAfterSeconds: 30 * DAY }, now), 'prometheus');
  });
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

type Matrix = { metric: Record<string, string>; values: [number, string][] }[];

describe('query routing between Prometheus and VictoriaMetrics', { timeout: 90_000 }, () => {
  let dir: TempDir;
  const children: ChildProcess[] = [];
  let viewer: Server;
  let orphan: Server;
  let url: string;
  let orphanUrl: string;
  const now = Math.floor(Date.now() / 1000);
  const old = now - 3 * DAY;

  before(async () => {
    dir = await tempDir('obsnest-viewer-routing-');
    const publicDir = join(dir.path, 'public');
    await mkdir(publicDir, { recursive: true });
    await writeFile(join(publicDir, 'index.html'), '<!doctype html><div id="root"></div>');
    const promPort = await freePort();
    await writeFile(
      join(dir.path, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:${promPort}']\n`,
    );
    children.push(
      spawn(
        process.env.PROMETHEUS_BINARY ?? 'prometheus',
        [
          `--config.file=${join(dir.path, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir.path, 'prometheus')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
          '--log.level=warn',
        ],
        { stdio: 'ignore' },
      ),
    );
    const vmPort = await freePort();
    // The flags of the native stack's store (monitoring/runtime/scale.ts, which builds after this package).
    children.push(
      spawn(
        process.env.VICTORIA_METRICS_BINARY ?? 'victoria-metrics',
        [
          `-storageDataPath=${join(dir.path, 'vm')}`,
          '-retentionPeriod=1y',
          `-httpListenAddr=127.0.0.1:${vmPort}`,
          '-dedup.minScrapeInterval=15s',
          '-selfScrapeInterval=0',
        ],
        { stdio: 'ignore' },
      ),
    );
    const prometheusUrl = `http://127.0.0.1:${promPort}`;
    const longTermUrl = `http://127.0.0.1:${vmPort}`;
    await waitFor('Prometheus to be ready', async () => (await fetch(`${prometheusUrl}/-/ready`).catch(() => undefined))?.ok, 30_000);
    await waitFor('VictoriaMetrics to be ready', async () => (await fetch(`${longTermUrl}/health`).catch(() => undefined))?.ok, 30_000);
    // A day of hourly samples, three days ago: history that only the store has.
    const timestamps = Array.from({ length: 24 }, (_, i) => (old + i * 3600) * 1000);
    const line = JSON.stringify({
      metric: { __name__: 'obsnest_history', job: 'history' },
      values: timestamps.map((_, i) => i),
      timestamps,
    });
    const imported = await fetch(`${longTermUrl}/api/v1/import`, { method: 'POST', body: `${line}\n` });
    assert.equal(imported.status, 204);
    await waitFor(
      'the imported samples to be searchable',
      async () => {
        const body = (await (
          await fetch(`${longTermUrl}/api/v1/query?query=count_over_time(obsnest_history[2d])&time=${old + 2 * DAY}`)
        ).json()) as { data: { result: unknown[] } };
        return body.data.result.length > 0 || undefined;
      },
      30_000,
    );
    await waitFor(
      'Prometheus to have scraped itself',
      async () => {
        const body = (await (await fetch(`${prometheusUrl}/api/v1/query?query=up`)).json()) as { data: { result: unknown[] } };
        return body.data.result.length > 0 || undefined;
      },
      30_000,
    );
    const dashboards = loadDashboards(defaultDashboardsDir());
    const routing = { longTermUrl, longTermAfterSeconds: DAY };
    viewer = createViewerServer({ prometheusUrl, routing, publicDir, dashboards, scrapeInterval: '15s' });
    url = await listen(viewer);
    const nobody = { longTermUrl: `http://127.0.0.1:${await freePort()}`, longTermAfterSeconds: DAY };
    orphan = createViewerServer({ prometheusUrl, routing: nobody, publicDir, dashboards, scrapeInterval: '15s' });
    orphanUrl = await listen(orphan);
  });

  after(async () => {
    await Promise.all([viewer && close(viewer), orphan && close(orphan)]);
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => (child.exitCode === null ? new Promise((r) => child.once('exit', r)) : undefined)));
    await dir?.remove();
  });

  /** A query_range sent as Perses sends it (a form body), with the answer and who gave it. */
  async function range(base: string, path: string, query: string, start: number, end: number, step: number) {
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) }),
    });
    const body = (await response.json()) as { status: string; data?: { result: Matrix }; error?: string };
    return { status: response.status, source: response.headers.get(SOURCE_HEADER), body };
  }

  it('answers a range reaching back beyond the retention from the store, with its history', async () => {
    const answer = await range(url, '/api/v1/query_range', 'obsnest_history', now - 4 * DAY, now, 3600);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.source, 'long-term');
    const [series] = answer.body.data?.result ?? [];
    assert.equal(series?.metric.job, 'history');
    assert.ok((series?.values.length ?? 0) >= 20, `the day of samples (${series?.values.length})`);
    // Prometheus scraped itself for seconds and wrote nothing to the store: none of it here.
    const up = await range(url, '/api/v1/query_range', 'up{job="prometheus"}', now - 4 * DAY, now + 60, 60);
    assert.deepEqual([up.source, up.body.data?.result], ['long-term', []]);
  });

  it('answers a recent range from Prometheus', async () => {
    const end = Math.floor(Date.now() / 1000);
    const answer = await range(url, '/api/v1/query_range', 'up{job="prometheus"}', end - 300, end, 1);
    assert.equal(answer.source, 'prometheus');
    assert.ok((answer.body.data?.result[0]?.values.length ?? 0) > 0, 'the samples it scraped');
    const history = await range(url, '/api/v1/query_range', 'obsnest_history', end - 3600, end, 60);
    assert.deepEqual([history.source, history.body.data?.result], ['prometheus', []]);
  });

  it('routes an instant query by its window, sent in the URL', async () => {
    const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent('count_over_time(obsnest_history[4d])')}`);
    assert.equal(response.headers.get(SOURCE_HEADER), 'long-term');
    const body = (await response.json()) as { data: { result: { value: [number, string] }[] } };
    assert.equal(body.data.result[0]?.value[1], '24');
  });

  it('sends to the source a user picked, whatever the range', async () => {
    const end = Math.floor(Date.now() / 1000);
    const fromPrometheus = await range(url, '/source/prometheus/api/v1/query_range', 'obsnest_history', now - 4 * DAY, end, 3600);
    assert.deepEqual([fromPrometheus.source, fromPrometheus.body.data?.result], ['prometheus', []]);
    const fromStore = await range(url, '/source/long-term/api/v1/query_range', 'up{job="prometheus"}', end - 300, end, 1);
    assert.deepEqual([fromStore.source, fromStore.body.data?.result], ['long-term', []]);
    assert.equal((await fetch(`${url}/source/elsewhere/api/v1/query?query=up`)).status, 404);
    const config = (await (await fetch(`${url}/viewer/config`)).json()) as { longTermUrl?: string; longTermAfterSeconds?: number };
    assert.deepEqual([config.longTermUrl?.startsWith('http://127.0.0.1:'), config.longTermAfterSeconds], [true, DAY]);
  });

  it('names the long-term store when it is unreachable, in Prometheus error format', async () => {
    const answer = await range(orphanUrl, '/api/v1/query_range', 'obsnest_history', now - 4 * DAY, now, 3600);
    assert.equal(answer.status, 502);
    assert.match(answer.body.error ?? '', /^The long-term store at http:\/\/127\.0\.0\.1:\d+ is unreachable: ECONNREFUSED/);
    const recent = await range(orphanUrl, '/api/v1/query_range', 'up', now - 60, now, 15);
    assert.equal(recent.status, 200, 'Prometheus still answers the recent ranges');
  });
});
