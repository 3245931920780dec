import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { CLIENT_CLOSED_REQUEST, type FinishedRequest, HTTP_DURATION_BUCKETS, UNMATCHED_ROUTE } from '../src/index.js';
import { ADAPTERS, type StartOptions, withApp } from './support/app.js';
import { ItemsController, slowGate, TeapotFilter } from './support/controllers.js';
import { type Exposition, httpSeries, rawRequest, scrape, select, sampleValue, waitFor } from './support/metrics.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const withTeapotFilter = (app: INestApplication) => app.useGlobalFilters(new TeapotFilter(app.get(HttpAdapterHost)));

const itemsApp = (extra: StartOptions = {}): StartOptions => ({ controllers: [ItemsController], configure: withTeapotFilter, ...extra });

/**
 * Scrapes until `expected` holds: a response is counted when it closes, which can come a moment
 * after the client has read it. A wrong value keeps failing and is reported at the deadline.
 */
function scrapeUntil(url: string, check: (exposition: Exposition) => void, timeoutMs = 3000): Promise<Exposition> {
  return waitFor(
    'the expected metrics',
    async () => {
      const exposition = await scrape(url);
      check(exposition);
      return exposition;
    },
    timeoutMs,
  );
}

/** Runs `tasks` with at most `width` in flight. */
async function pooled<T>(count: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

/** Every histogram series has `_count` and `+Inf` bucket equal to the counter, and the contract's buckets. */
function assertHistogramMatchesCounter(exposition: Exposition): void {
  const counters = select(exposition, 'http_requests_total');
  assert.ok(counters.length > 0, 'there are request series to compare');
  assert.equal(select(exposition, 'http_request_duration_seconds_count').length, counters.length, 'one histogram per counter series');
  for (const { labels, value } of counters) {
    assert.equal(sampleValue(exposition, 'http_request_duration_seconds_count', labels), value, `_count of ${JSON.stringify(labels)}`);
    assert.equal(sampleValue(exposition, 'http_request_duration_seconds_bucket', { ...labels, le: '+Inf' }), value);
    const sum = sampleValue(exposition, 'http_request_duration_seconds_sum', labels);
    assert.ok(sum > 0 && sum < 60 * value, `_sum of ${JSON.stringify(labels)} is a plausible duration: ${sum}`);
    const les = select(exposition, 'http_request_duration_seconds_bucket', labels).map((s) => s.labels.le);
    assert.deepEqual(les, [...HTTP_DURATION_BUCKETS.map(String), '+Inf']);
  }
}

for (const adapter of ADAPTERS) {
  describe(`HTTP instrumentation (${adapter})`, () => {
    it('counts N requests to /items/1..N as one series with route="/items/:id"', () =>
      withApp(adapter, itemsApp(), async ({ url }) => {
        const N = 40;
        const statuses = await pooled(N, 8, async (i) => (await fetch(`${url}/items/${i + 1}?q=${i}`)).status);
        assert.deepEqual(new Set(statuses), new Set([200]));
        const exposition = await scrapeUntil(url, (e) => assert.deepEqual(httpSeries(e), [`GET /items/:id 200 = ${N}`]));
        assertHistogramMatchesCounter(exposition);
      }));

    it('labels status_code with what was sent after exception filters', () =>
      withApp(adapter, itemsApp(), async ({ url }) => {
        const sent: Record<string, number[]> = { custom: [], teapot: [], boom: [], items: [] };
        for (let i = 0; i < 2; i++) sent.custom.push((await fetch(`${url}/custom`)).status);
        sent.teapot.push((await fetch(`${url}/teapot`)).status);
        for (let i = 0; i < 3; i++) sent.boom.push((await fetch(`${url}/boom`)).status);
        sent.items.push((await fetch(`${url}/items/7`)).status);
        assert.deepEqual(sent, { custom: [418, 418], teapot: [418], boom: [500, 500, 500], items: [200] });

        const exposition = await scrapeUntil(url, (e) =>
          assert.deepEqual(httpSeries(e), ['GET /boom 500 = 3', 'GET /custom 418 = 2', 'GET /items/:id 200 = 1', 'GET /teapot 418 = 1']),
        );
        assertHistogramMatchesCounter(exposition);
      }));

    it('puts thousands of random paths under route="UNMATCHED", so series stay bounded', () =>
      withApp(adapter, itemsApp(), async ({ url }) => {
        const N = 2000;
        const statuses = await pooled(N, 32, async (i) => {
          const junk = randomBytes(6).toString('hex');
          // Even requests: random unknown paths (nested, with query strings). Odd: random ids on a real route.
          const path = i % 2 === 0 ? `/${junk}/${i}/x?${junk}=${i}` : `/items/${junk}`;
          const res = await fetch(`${url}${path}`);
          await res.arrayBuffer();
          return res.status;
        });
        assert.equal(statuses.filter((s) => s === 404).length, N / 2);
        assert.equal(statuses.filter((s) => s === 200).length, N / 2);

        const exposition = await scrapeUntil(
          url,
          (e) => assert.deepEqual(httpSeries(e), [`GET ${UNMATCHED_ROUTE} 404 = ${N / 2}`, `GET /items/:id 200 = ${N / 2}`].sort()),
          5000,
        );
        // Bounded: 2 counter series, 2 × (11 + 1) buckets, whatever the paths were.
        assert.equal(select(exposition, 'http_requests_total').length, 2);
        assert.equal(select(exposition, 'http_request_duration_seconds_bucket').length, 2 * (HTTP_DURATION_BUCKETS.length + 1));
        const routes = new Set(exposition.samples.filter((s) => s.name.startsWith('http_')).map((s) => s.labels.route));
        assert.deepEqual(routes, new Set([UNMATCHED_ROUTE, '/items/:id']));
        assertHistogramMatchesCounter(exposition);
      }));

    it('folds methods outside the closed set into method="OTHER"', () =>
      withApp(adapter, itemsApp(), async ({ url }) => {
        const propfindAny = await rawRequest('PROPFIND', `${url}/any`);
        const propfindAny2 = await rawRequest('PROPFIND', `${url}/any`);
        const propfindItem = await rawRequest('PROPFIND', `${url}/items/1`);
        const del = await rawRequest('DELETE', `${url}/items/1`);
        const options = await rawRequest('OPTIONS', `${url}/nowhere`);
        assert.equal(propfindAny.status, 200, 'the @All route answers PROPFIND');
        assert.equal(propfindAny2.status, 200);
        assert.equal(propfindItem.status, 404, 'no PROPFIND /items/:id route');
        assert.equal(del.status, 404);

        await scrapeUntil(url, (e) =>
          assert.deepEqual(
            httpSeries(e),
            [
              'OTHER /any 200 = 2',
              `OTHER ${UNMATCHED_ROUTE} 404 = 1`,
              `DELETE ${UNMATCHED_ROUTE} 404 = 1`,
              `OPTIONS ${UNMATCHED_ROUTE} ${options.status} = 1`,
            ].sort(),
          ),
        );
        const methods = new Set(select(await scrape(url), 'http_requests_total').map((s) => s.labels.method));
        assert.ok(!methods.has('PROPFIND'), 'PROPFIND never becomes a label value');
      }));

    it('does not count /metrics and /health/* by default', () =>
      withApp(adapter, itemsApp(), async ({ url }) => {
        for (let i = 0; i < 3; i++) assert.equal((await fetch(`${url}/metrics`)).status, 200);
        for (let i = 0; i < 2; i++) assert.equal((await fetch(`${url}/health/live`)).status, 200);
        for (let i = 0; i < 2; i++) assert.equal((await fetch(`${url}/health/ready`)).status, 200);
        assert.equal((await fetch(`${url}/items/1`)).status, 200);
        await scrapeUntil(url, (e) => assert.deepEqual(httpSeries(e), ['GET /items/:id 200 = 1']));
      }));

    it('counts /metrics and /health/* when excludeRoutes is empty', () =>
      withApp(adapter, itemsApp({ observability: { excludeRoutes: [] } }), async ({ url }) => {
        assert.equal((await fetch(`${url}/health/live`)).status, 200);
        assert.equal((await fetch(`${url}/health/ready`)).status, 200);
        // The scrapes in scrapeUntil count themselves, so only the health series are asserted exactly.
        await scrapeUntil(url, (e) => {
          assert.equal(sampleValue(e, 'http_requests_total', { method: 'GET', route: '/health/live', status_code: '200' }), 1);
          assert.equal(sampleValue(e, 'http_requests_total', { method: 'GET', route: '/health/ready', status_code: '200' }), 1);
        });
        const e = await scrapeUntil(url, (x) =>
          assert.ok(sampleValue(x, 'http_requests_total', { method: 'GET', route: '/metrics', status_code: '200' }) >= 1),
        );
        assertHistogramMatchesCounter(e);
      }));

    it('echoes a valid request id and replaces an invalid or missing one', () =>
      withApp(adapter, itemsApp(), async ({ url }) => {
        const valid = 'abc-123._:XYZ';
        for (const path of ['/items/1', '/nowhere', '/boom']) {
          const res = await rawRequest('GET', `${url}${path}`, { headers: { 'x-request-id': valid } });
          assert.equal(res.headers['x-request-id'], valid, `echoed on ${path} (${res.status})`);
        }
        // Answered before any route handler: malformed percent-encoding (Fastify's router) and a malformed body.
        const badUrl = await rawRequest('GET', `${url}/items/%zz`, { headers: { 'x-request-id': valid } });
        assert.equal(badUrl.headers['x-request-id'], valid, `echoed on a malformed URL (${badUrl.status})`);
        const badBody = await rawRequest('POST', `${url}/items`, {
          headers: { 'x-request-id': valid, 'content-type': 'application/json' },
          body: '{oops',
        });
        assert.equal(badBody.status, 400);
        assert.equal(badBody.headers['x-request-id'], valid, 'echoed on a malformed body');
        const max = 'a'.repeat(128);
        assert.equal((await rawRequest('GET', `${url}/items/1`, { headers: { 'x-request-id': max } })).headers['x-request-id'], max);

        for (const invalid of ['x'.repeat(300), 'a'.repeat(129), 'has spaces in it', 'semi;colon', '<script>']) {
          const res = await rawRequest('GET', `${url}/items/1`, { headers: { 'x-request-id': invalid } });
          const id = String(res.headers['x-request-id']);
          assert.match(id, UUID, `replaced ${JSON.stringify(invalid.slice(0, 20))}`);
        }
        const a = (await rawRequest('GET', `${url}/items/1`)).headers['x-request-id'];
        const b = (await rawRequest('GET', `${url}/items/1`)).headers['x-request-id'];
        assert.match(String(a), UUID);
        assert.match(String(b), UUID);
        assert.notEqual(a, b, 'a fresh id per request');
      }));

    it('reads and writes a custom request id header, whatever its case in the options', () => {
      const finished: FinishedRequest[] = [];
      const observability = { requestIdHeader: 'X-Correlation-Id', onRequestFinished: (r: FinishedRequest) => finished.push(r) };
      return withApp(adapter, itemsApp({ observability }), async ({ url }) => {
        const res = await rawRequest('GET', `${url}/items/1`, { headers: { 'x-correlation-id': 'corr-1' } });
        assert.equal(res.headers['x-correlation-id'], 'corr-1');
        assert.equal(res.headers['x-request-id'], undefined);
        await waitFor('the finished request', () => (finished.length === 1 ? true : undefined));
        assert.equal(finished[0].requestId, 'corr-1');
        assert.equal(finished[0].route, '/items/:id');
        assert.equal(finished[0].url, '/items/1');
        assert.equal(finished[0].aborted, false);
      });
    });

    it('counts a malformed JSON body (400) and an oversized one (413) under the route template', () =>
      withApp(adapter, itemsApp(), async ({ url }) => {
        const headers = { 'content-type': 'application/json' };
        const ok = await rawRequest('POST', `${url}/items`, { headers, body: '{"a":1}' });
        assert.equal(ok.status, 201);
        const malformed = await rawRequest('POST', `${url}/items`, { headers, body: '{"a":' });
        assert.equal(malformed.status, 400);
        const huge = await rawRequest('POST', `${url}/items`, { headers, body: JSON.stringify({ a: 'x'.repeat(2 * 1024 * 1024) }) });
        assert.equal(huge.status, 413);
        await scrapeUntil(url, (e) =>
          assert.deepEqual(httpSeries(e), ['POST /items 201 = 1', 'POST /items 400 = 1', 'POST /items 413 = 1']),
        );
      }));

    if (adapter === 'express') {
      it('counts body parser rejections under the route template with useBodyParser (the routeByPath fallback)', () =>
        withApp(
          adapter,
          itemsApp({
            bodyParser: false,
            configure: (app) => {
              withTeapotFilter(app);
              (app as NestExpressApplication).useBodyParser('json', { limit: 1000 });
            },
          }),
          async ({ url }) => {
            const headers = { 'content-type': 'application/json' };
            assert.equal((await rawRequest('POST', `${url}/items`, { headers, body: '{oops' })).status, 400);
            assert.equal(
              (await rawRequest('POST', `${url}/items`, { headers, body: JSON.stringify({ a: 'x'.repeat(2000) }) })).status,
              413,
            );
            assert.equal((await rawRequest('POST', `${url}/items?x=1`, { headers, body: '[' })).status, 400);
            // Same malformed body on a path with no POST route stays UNMATCHED: the fallback only returns registered templates.
            assert.equal((await rawRequest('POST', `${url}/nothing/here`, { headers, body: '{oops' })).status, 400);
            await scrapeUntil(url, (e) =>
              assert.deepEqual(httpSeries(e), ['POST /items 400 = 2', 'POST /items 413 = 1', `POST ${UNMATCHED_ROUTE} 400 = 1`].sort()),
            );
          },
        ));
    }

    it('counts every response, also those the framework answers before any route or hook runs', () =>
      withApp(adapter, itemsApp(), async ({ url }) => {
        // Malformed percent-encoding: Fastify's router answers 400 itself, Express fails decoding the param.
        const sent = [
          await rawRequest('GET', `${url}/items/%zz`),
          await rawRequest('GET', `${url}/%zz`),
          await rawRequest('GET', `${url}/items/abc%E0%A4%A`),
          await rawRequest('HEAD', `${url}/items/1`),
        ].map((r) => r.status);
        assert.ok(
          sent.slice(0, 3).every((s) => s === 400 || s === 404),
          `malformed URLs get a 4xx: ${sent}`,
        );
        assert.equal(sent[3], 200);
        await scrapeUntil(url, (e) => {
          const counters = select(e, 'http_requests_total');
          assert.equal(
            counters.reduce((sum, c) => sum + c.value, 0),
            sent.length,
            `every response counted: ${httpSeries(e)}`,
          );
          assert.equal(sampleValue(e, 'http_requests_total', { method: 'HEAD', route: '/items/:id', status_code: '200' }), 1);
          for (const c of counters) assert.ok(['/items/:id', UNMATCHED_ROUTE].includes(c.labels.route), c.labels.route);
        });
      }));

    it(`counts a response the client abandoned with status ${CLIENT_CLOSED_REQUEST}`, () => {
      const finished: FinishedRequest[] = [];
      return withApp(adapter, itemsApp({ observability: { onRequestFinished: (r) => finished.push(r) } }), async ({ url }) => {
        slowGate.reset();
        const controller = new AbortController();
        const pending = fetch(`${url}/slow`, { signal: controller.signal, headers: { 'x-request-id': 'abandoned-1' } }).then(
          () => 'answered',
          (error: Error) => error.name,
        );
        // Deterministic: abort once the handler is known to be running, not after a guessed delay.
        await slowGate.entered.promise;
        controller.abort();
        assert.equal(await pending, 'AbortError');

        await scrapeUntil(url, (e) => assert.deepEqual(httpSeries(e), [`GET /slow ${CLIENT_CLOSED_REQUEST} = 1`]));
        // Let the handler finish and try to answer: the request must not be counted a second time.
        slowGate.release();
        await slowGate.returned.promise;
        await new Promise((r) => setTimeout(r, 100));
        const after = await scrape(url);
        assert.deepEqual(httpSeries(after), [`GET /slow ${CLIENT_CLOSED_REQUEST} = 1`]);
        assertHistogramMatchesCounter(after);

        const slow = finished.filter((r) => r.route === '/slow');
        assert.equal(slow.length, 1);
        assert.equal(slow[0].aborted, true);
        assert.equal(slow[0].statusCode, CLIENT_CLOSED_REQUEST);
        assert.equal(slow[0].requestId, 'abandoned-1');
        assert.equal(slow[0].method, 'GET');
      });
    });
  });
}
