import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Injectable, Optional } from '@nestjs/common';
import { AppMetrics, bearerTokenMatches, HealthRegistry, ManagementServer, UNMATCHED_ROUTE } from '../src/index.js';
import { ADAPTERS, startApp, withApp } from './support/app.js';
import { ItemsController } from './support/controllers.js';
import { httpSeries, parseExposition, scrape, sampleValue, waitFor } from './support/metrics.js';
import { freePort } from './support/ports.js';

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
const TOKEN = 'scrape-s3cret-token';

describe('bearerTokenMatches', () => {
  it('accepts exactly "Bearer <token>"', () => {
    assert.equal(bearerTokenMatches(`Bearer ${TOKEN}`, TOKEN), true);
    assert.equal(bearerTokenMatches('Bearer a b c', 'a b c'), true, 'the token is everything after the scheme');
  });

  it('rejects everything else', () => {
    const cases: (string | undefined)[] = [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      TOKEN,
      `Basic ${TOKEN}`,
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN} `,
      `Bearer  ${TOKEN}`,
      `Bearer ${TOKEN.toUpperCase()}`,
      `xBearer ${TOKEN}`,
      `Bearer ${TOKEN}\nBearer other`,
    ];
    for (const header of cases) assert.equal(bearerTokenMatches(header, TOKEN), false, JSON.stringify(header));
  });

  it('never matches an empty token, even with no header', () => {
    assert.equal(bearerTokenMatches(undefined, ''), false);
    assert.equal(bearerTokenMatches('', ''), false);
    assert.equal(bearerTokenMatches('Bearer ', ''), false);
  });
});

for (const adapter of ADAPTERS) {
  describe(`/metrics and health endpoints (${adapter})`, () => {
    it('serves the Prometheus text format without a token configured', () =>
      withApp(adapter, {}, async ({ url }) => {
        const res = await fetch(`${url}/metrics`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), PROMETHEUS_TEXT);
        assert.equal(res.headers.get('cache-control'), 'no-store');
        const exposition = parseExposition(await res.text());
        assert.equal(sampleValue(exposition, 'app_build_info', { version: 'test', node_version: process.version }), 1);
      }));

    it('requires the bearer token when one is configured', () =>
      withApp(adapter, { observability: { metricsToken: TOKEN } }, async ({ url }) => {
        const missing = await fetch(`${url}/metrics`);
        assert.equal(missing.status, 401);
        assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="metrics"');
        const missingBody = (await missing.json()) as Record<string, unknown>;
        assert.equal(missingBody.statusCode, 401);
        assert.ok(!JSON.stringify(missingBody).includes('http_requests_total'), 'no metrics in a refusal');

        for (const authorization of [`Bearer wrong`, `Basic ${TOKEN}`, TOKEN, `Bearer ${TOKEN}0`]) {
          const wrong = await fetch(`${url}/metrics`, { headers: { authorization } });
          assert.equal(wrong.status, 401, authorization);
          assert.equal(wrong.headers.get('www-authenticate'), 'Bearer realm="metrics"');
          await wrong.arrayBuffer();
        }

        const right = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
        assert.equal(right.status, 200);
        assert.equal(right.headers.get('content-type'), PROMETHEUS_TEXT);
        assert.ok(right.headers.get('content-type')?.startsWith('text/plain; version=0.0.4'));
        assert.match(await right.text(), /^# HELP http_requests_total /m);

        // Health is for probes, which carry no token.
        assert.equal((await fetch(`${url}/health/live`)).status, 200);
        assert.equal((await fetch(`${url}/health/ready`)).status, 200);
      }));

    it('serves /metrics and /health/* on the management port only', async () => {
      const managementPort = await freePort();
      await withApp(
        adapter,
        { controllers: [ItemsController], observability: { managementPort, metricsToken: TOKEN } },
        async ({ url, app }) => {
          const management = `http://127.0.0.1:${managementPort}`;
          assert.equal(app.get(ManagementServer).address?.port, managementPort);
          assert.notEqual(new URL(url).port, String(managementPort));

          const metrics = await fetch(`${management}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
          assert.equal(metrics.status, 200);
          assert.equal(metrics.headers.get('content-type'), PROMETHEUS_TEXT);
          assert.equal(metrics.headers.get('cache-control'), 'no-store');
          assert.match(await metrics.text(), /^# TYPE http_requests_total counter$/m);
          const unauthorized = await fetch(`${management}/metrics`);
          assert.equal(unauthorized.status, 401);
          assert.equal(unauthorized.headers.get('www-authenticate'), 'Bearer realm="metrics"');

          const live = await fetch(`${management}/health/live`);
          assert.equal(live.status, 200);
          assert.equal(((await live.json()) as { status: string }).status, 'ok');
          assert.equal((await fetch(`${management}/health/ready`)).status, 200);
          assert.equal((await fetch(`${management}/metrics?x=1`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
          const head = await fetch(`${management}/health/live`, { method: 'HEAD' });
          assert.equal(head.status, 200);
          assert.equal(await head.text(), '');
          assert.equal((await fetch(`${management}/items/1`)).status, 404, 'the app routes are not on the management port');
          assert.equal((await fetch(`${management}/metrics`, { method: 'POST' })).status, 405);

          for (const path of ['/metrics', '/health/live', '/health/ready']) {
            const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
            assert.equal(res.status, 404, `${path} on the application port`);
            await res.arrayBuffer();
          }
          assert.equal((await fetch(`${url}/items/1`)).status, 200);

          // Management requests are not application traffic; the probes on the app port were 404s that matched no route.
          await waitFor('the app-port requests to be counted', async () => {
            const e = parseExposition(
              await (await fetch(`${management}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text(),
            );
            assert.deepEqual(httpSeries(e), [`GET /items/:id 200 = 1`, `GET ${UNMATCHED_ROUTE} 404 = 3`].sort());
            return true;
          });
        },
      );
      await assert.rejects(fetch(`http://127.0.0.1:${managementPort}/health/live`), 'the management listener closes with the app');
    });

    it('fails to start when the management port is taken', async () => {
      const first = await startApp(adapter, { observability: { managementPort: await freePort() } });
      try {
        const port = first.app.get(ManagementServer).address?.port;
        await assert.rejects(startApp(adapter, { observability: { managementPort: port } }), /EADDRINUSE/);
      } finally {
        await first.close();
      }
    });

    it('with metricsEnabled: false has no AppMetrics, no /metrics, and health still works', () => {
      @Injectable()
      class NeedsMetrics {
        constructor(@Optional() readonly metrics?: AppMetrics) {}
      }
      const finished: string[] = [];
      const observability = { metricsEnabled: false, onRequestFinished: (r: { route: string }) => finished.push(r.route) };
      return withApp(adapter, { controllers: [ItemsController], providers: [NeedsMetrics], observability }, async ({ url, app }) => {
        assert.throws(() => app.get(AppMetrics, { strict: false }));
        assert.equal(app.get(NeedsMetrics).metrics, undefined);
        assert.ok(app.get(HealthRegistry) instanceof HealthRegistry);

        const metrics = await fetch(`${url}/metrics`);
        assert.equal(metrics.status, 404);
        assert.doesNotMatch(await metrics.text(), /http_requests_total/);
        assert.equal((await fetch(`${url}/health/live`)).status, 200);
        assert.equal((await fetch(`${url}/health/ready`)).status, 200);

        const item = await fetch(`${url}/items/1`);
        assert.equal(item.status, 200);
        assert.match(String(item.headers.get('x-request-id')), /^[0-9a-f-]{36}$/, 'request ids stay on');
        await waitFor('the access-log hook', () => (finished.includes('/items/:id') ? true : undefined));
      });
    });

    it('with metricsEnabled: false answers 404 on the management /metrics', async () => {
      const managementPort = await freePort();
      await withApp(adapter, { observability: { metricsEnabled: false, managementPort } }, async () => {
        const res = await fetch(`http://127.0.0.1:${managementPort}/metrics`);
        assert.equal(res.status, 404);
        assert.equal((await fetch(`http://127.0.0.1:${managementPort}/health/live`)).status, 200);
      });
    });
  });
}

describe('several applications in one process', () => {
  it('each gets its own registry: no "already registered" error, counts do not mix', async () => {
    // Default Node metrics on, the case where a shared global registry would throw.
    const a = await startApp('express', { controllers: [ItemsController], observability: { defaultMetrics: true } });
    try {
      const b = await startApp('fastify', { controllers: [ItemsController], observability: { defaultMetrics: true } });
      try {
        const c = await startApp('express', { controllers: [ItemsController], observability: { defaultMetrics: true } });
        try {
          assert.notEqual(a.app.get(AppMetrics), b.app.get(AppMetrics));
          assert.notEqual(a.app.get(AppMetrics).registry, c.app.get(AppMetrics).registry);
          for (let i = 0; i < 3; i++) assert.equal((await fetch(`${a.url}/items/${i}`)).status, 200);
          for (let i = 0; i < 5; i++) assert.equal((await fetch(`${b.url}/items/${i}`)).status, 200);
          for (let i = 0; i < 7; i++) assert.equal((await fetch(`${c.url}/nope/${i}`)).status, 404);
          await waitFor('separate counts', async () => {
            assert.deepEqual(httpSeries(await scrape(a.url)), ['GET /items/:id 200 = 3']);
            assert.deepEqual(httpSeries(await scrape(b.url)), ['GET /items/:id 200 = 5']);
            assert.deepEqual(httpSeries(await scrape(c.url)), [`GET ${UNMATCHED_ROUTE} 404 = 7`]);
            return true;
          });
          assert.match(await a.app.get(AppMetrics).render(), /^nodejs_eventloop_lag_p99_seconds /m);
        } finally {
          await c.close();
        }
      } finally {
        await b.close();
      }
    } finally {
      await a.close();
    }
    // Closed and created again, as a hot reload does.
    await withApp('express', { controllers: [ItemsController], observability: { defaultMetrics: true } }, async ({ url }) => {
      assert.equal((await fetch(`${url}/items/1`)).status, 200);
      await waitFor('a fresh count', async () => {
        assert.deepEqual(httpSeries(await scrape(url)), ['GET /items/:id 200 = 1']);
        return true;
      });
    });
  });
});
