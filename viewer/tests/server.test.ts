import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, type TempDir, tempDir, waitFor } from '@obsnest/testkit';
import { PUBLIC_DIR } from '../src/build/bundle.js';
import { createViewerServer } from '../src/server/app.js';
import { defaultDashboardsDir, loadDashboards } from '../src/server/dashboards.js';

/** The viewer's server in-process, against a real Prometheus (and a port nobody listens on). */

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('viewer server', { timeout: 60_000 }, () => {
  let dir: TempDir;
  let prometheus: ChildProcess;
  let viewer: Server;
  let orphan: Server;
  let url: string;
  let orphanUrl: string;
  const dashboards = loadDashboards(defaultDashboardsDir());

  before(async () => {
    dir = await tempDir('obsnest-viewer-');
    // The page itself is not under test here: a stand-in index.html keeps the test off esbuild.
    const publicDir = join(dir.path, 'public');
    await mkdir(join(publicDir, 'assets'), { recursive: true });
    await writeFile(join(publicDir, 'index.html'), '<!doctype html><div id="root"></div>');
    await writeFile(join(publicDir, 'assets', 'app.js'), 'console.log(1)');
    const port = await freePort();
    await writeFile(join(dir.path, 'prometheus.yml'), 'global:\n  scrape_interval: 15s\n');
    prometheus = spawn(
      process.env.PROMETHEUS_BINARY ?? 'prometheus',
      [
        `--config.file=${join(dir.path, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir.path, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: 'ignore' },
    );
    const prometheusUrl = `http://127.0.0.1:${port}`;
    await waitFor('Prometheus to be ready', async () => (await fetch(`${prometheusUrl}/-/ready`)).ok, 30_000);
    viewer = createViewerServer({ prometheusUrl, publicDir, dashboards, scrapeInterval: '15s' });
    url = await listen(viewer);
    const nobody = `http://127.0.0.1:${await freePort()}`;
    orphan = createViewerServer({ prometheusUrl: nobody, publicDir, dashboards, scrapeInterval: '15s' });
    orphanUrl = await listen(orphan);
  });

  after(async () => {
    await Promise.all([viewer && close(viewer), orphan && close(orphan)]);
    prometheus?.kill('SIGTERM');
    await dir?.remove();
  });

  it('answers /healthz with 200 and the number of dashboards', async () => {
    const response = await fetch(`${url}/healthz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok', dashboards: 3 });
  });

  it('lists the committed dashboards and serves each one, the page at / and /d/<uid>', async () => {
    const list = (await (await fetch(`${url}/viewer/dashboards`)).json()) as { uid: string; title: string }[];
    assert.deepEqual(list.map((d) => d.uid).sort(), ['infrastructure', 'nestjs-backend', 'slo-alerts']);
    const one = (await (await fetch(`${url}/viewer/dashboards/nestjs-backend`)).json()) as { kind: string; spec: { duration: string } };
    assert.equal(one.kind, 'Dashboard');
    assert.equal(one.spec.duration, '1h');
    for (const path of ['/', '/d/nestjs-backend']) {
      const page = await fetch(`${url}${path}`);
      assert.equal(page.status, 200, path);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    }
    assert.equal((await fetch(`${url}/d/no-such-dashboard`)).status, 404);
    assert.equal((await fetch(`${url}/viewer/dashboards/no-such-dashboard`)).status, 404);
  });

  it('serves assets and nothing outside them', async () => {
    assert.equal((await fetch(`${url}/assets/app.js`)).status, 200);
    assert.equal((await fetch(`${url}/assets/..%2Findex.html`)).status, 404);
    assert.equal((await fetch(`${url}/assets/%2E%2E/%2E%2E/package.json`)).status, 404);
  });

  it('proxies /api/v1 GET and POST queries to Prometheus', async () => {
    const get = (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent('vector(42)')}`)).json()) as {
      data: { result: { value: [number, string] }[] };
    };
    assert.equal(get.data.result[0]?.value[1], '42');
    const post = await fetch(`${url}/api/v1/query_range`, {
      method: 'POST',
      body: new URLSearchParams({ query: 'vector(7)', start: String(Date.now() / 1000 - 60), end: String(Date.now() / 1000), step: '15' }),
    });
    assert.equal(post.status, 200);
    const body = (await post.json()) as { data: { resultType: string; result: { values: [number, string][] }[] } };
    assert.equal(body.data.resultType, 'matrix');
    assert.equal(body.data.result[0]?.values.at(-1)?.[1], '7');
    const bad = await fetch(`${url}/api/v1/query?query=${encodeURIComponent('sum(')}`);
    assert.equal(bad.status, 400, "Prometheus' own error status comes through");
  });

  it('says which Prometheus is unreachable, in Prometheus error format, with status 502', async () => {
    const response = await fetch(`${orphanUrl}/api/v1/status/buildinfo`);
    assert.equal(response.status, 502);
    const body = (await response.json()) as { status: string; error: string };
    assert.equal(body.status, 'error');
    assert.match(body.error, /^Prometheus at http:\/\/127\.0\.0\.1:\d+ is unreachable: ECONNREFUSED/);
  });

  it('refuses to start without a bundle', () => {
    assert.throws(
      () =>
        createViewerServer({
          prometheusUrl: 'http://127.0.0.1:1',
          publicDir: join(PUBLIC_DIR, 'nowhere'),
          dashboards,
          scrapeInterval: '15s',
        }),
      /no bundle in/,
    );
  });
});
