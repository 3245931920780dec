import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@obsnest/testkit';
import { AppMetrics } from '../src/index.js';
import { withApp } from './support/app.js';
import { ItemsController } from './support/controllers.js';
import { parseExposition, scrapeAs, waitFor } from './support/metrics.js';
import { freePort } from './support/ports.js';
import { TEST_APP_METRICS } from './support/test-contract.js';

const PROMETHEUS = process.env.PROMETHEUS ?? '/usr/bin/prometheus';

/** Forwards scrapes to the app and remembers what was asked for and what was answered. */
async function recordingProxy(target: string) {
  const seen: { accept: string; contentType: string }[] = [];
  const server = createServer(async (req, res) => {
    const upstream = await fetch(`${target}${req.url}`, { headers: { accept: req.headers.accept ?? '' } });
    const body = await upstream.text();
    const contentType = upstream.headers.get('content-type') ?? '';
    seen.push({ accept: req.headers.accept ?? '', contentType });
    res.writeHead(upstream.status, { 'content-type': contentType }).end(body);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `127.0.0.1:${port}`, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function instantValue(prometheus: string, query: string): Promise<number | undefined> {
  const res = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
  const result = body.data?.result ?? [];
  return result.length === 1 ? Number(result[0].value[1]) : undefined;
}

describe('Prometheus scraping /metrics', () => {
  it('asks for OpenMetrics, gets it, parses it, and stores the same samples the text format has', () =>
    withApp('fastify', { controllers: [ItemsController], observability: { metrics: [TEST_APP_METRICS] } }, async ({ url, app }) => {
      const metrics = app.get(AppMetrics);
      for (let i = 0; i < 3; i++) assert.equal((await fetch(`${url}/items/${i}`)).status, 200);
      metrics.handle(TEST_APP_METRICS.emailsSentTotal).inc({ transport: 'smtp' }, 2);
      metrics.handle(TEST_APP_METRICS.batchDurationSeconds).observe({ kind: 'import' }, 0.5);
      const textSamples = await waitFor('the requests to be counted', async () => {
        const e = parseExposition((await scrapeAs(url, 'text/plain')).body);
        return e.samples.some((s) => s.name === 'http_requests_total' && s.value === 3) ? e.samples.length : undefined;
      });

      const proxy = await recordingProxy(url);
      const dir = await tempDir();
      const port = await freePort();
      const config = join(dir.path, 'prometheus.yml');
      await writeFile(
        config,
        `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['${proxy.url}']\n`,
      );
      const child = spawn(
        PROMETHEUS,
        [`--config.file=${config}`, `--storage.tsdb.path=${join(dir.path, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let log = '';
      child.stderr.on('data', (c: Buffer) => (log += c.toString()));
      const prometheus = `http://127.0.0.1:${port}`;
      try {
        await waitFor(
          'Prometheus to scrape the app',
          async () => ((await instantValue(prometheus, 'up{job="app"}').catch(() => undefined)) === 1 ? true : undefined),
          20_000,
        ).catch((error: unknown) => {
          throw new Error(`${(error as Error).message}\n${log.slice(-2000)}`);
        });
        assert.ok(proxy.seen.length > 0);
        for (const { accept, contentType } of proxy.seen) {
          assert.match(accept, /^application\/openmetrics-text;version=1\.0\.0/, 'Prometheus asks for OpenMetrics first');
          assert.equal(contentType, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
        }
        assert.equal(
          await instantValue(prometheus, 'scrape_samples_scraped{job="app"}'),
          textSamples,
          'as many samples as the text format',
        );
        assert.equal(await instantValue(prometheus, 'http_requests_total{route="/items/:id",status_code="200"}'), 3);
        assert.equal(await instantValue(prometheus, 'test_emails_sent_total{transport="smtp"}'), 2);
        assert.equal(await instantValue(prometheus, 'test_emails_sent_total{transport="dev"}'), 0);
        assert.equal(await instantValue(prometheus, 'test_batch_duration_seconds_bucket{kind="import",le="1"}'), 1);
      } finally {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
        await proxy.close();
        await dir.remove();
      }
    }));
});
