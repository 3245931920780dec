import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { ADAPTERS, BACKENDS, json, postJson, type RunningApi, startApi } from './support/api.js';
import { waitFor } from './support/services.js';
import { parseExposition, promtoolCheckMetrics, type Sample, scrape, sumOf, sampleValue } from './support/scrape.js';

const RANDOM_PATHS = 2000;

function connect(url: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/**
 * The judged scenario: a known mix of traffic, then exact counts, templates, gauges and a bounded
 * number of series in /metrics, on each adapter and each set of backends.
 */
for (const backends of BACKENDS) {
  for (const adapter of ADAPTERS) {
    describe(`metrics after a traffic mix (${adapter}, ${backends} backends)`, () => {
      let api: RunningApi;
      const sockets: Socket[] = [];
      const received: unknown[] = [];
      let samples: Sample[];

      before(async () => {
        api = await startApi(backends, adapter);
        for (let i = 0; i < 4; i++) {
          const socket = await connect(api.url);
          socket.on('user.created', (user) => received.push(user));
          sockets.push(socket);
        }
        sockets[0].emit('hello', { x: 1 });
        sockets[0].emit('hello', { x: 2 });
        sockets[1].emit('whatever', 'y');

        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          const res = await postJson(`${api.url}/users`, { email: `m${i}@example.com`, name: `M${i}` });
          assert.equal(res.status, 201);
          ids.push(String((await json(res)).id));
        }
        for (const id of ids) assert.equal((await fetch(`${api.url}/users/${id}`)).status, 200);
        assert.equal((await postJson(`${api.url}/users`, { email: 'bad', name: 'x' })).status, 400);
        assert.equal((await postJson(`${api.url}/users`, { email: 'm0@example.com', name: 'again' })).status, 409);
        assert.equal((await fetch(`${api.url}/users/not-a-uuid`)).status, 400);
        assert.equal((await fetch(`${api.url}/users/00000000-0000-4000-8000-000000000000`)).status, 404);
        assert.equal((await postJson(`${api.url}/users`, { email: 'nobody@mail.invalid', name: 'Nobody' })).status, 201);
        for (let i = 0; i < RANDOM_PATHS; i += 50) {
          await Promise.all(
            Array.from({ length: 50 }, () =>
              fetch(
                `${api.url}/${randomBytes(6).toString('hex')}/${randomBytes(4).toString('hex')}?q=${randomBytes(3).toString('hex')}`,
              ).then((r) => {
                assert.equal(r.status, 404);
                return r.arrayBuffer();
              }),
            ),
          );
        }
        // One client leaves; the gauge must follow.
        sockets.pop()?.disconnect();
        // 6 users created (5 good + 1 .invalid); the .invalid one fails all 3 attempts (50 ms backoff).
        samples = await waitFor(
          'email jobs to settle and the socket to close',
          async () => {
            const s = await scrape(api.url);
            const done =
              sampleValue(s, 'queue_jobs_completed_total', { queue: 'email' }) === 5 &&
              sampleValue(s, 'queue_jobs_failed_total', { queue: 'email' }) === 1;
            return done && sampleValue(s, 'websocket_connections', { namespace: '/' }) === 3 ? s : undefined;
          },
          20_000,
        );
      });

      after(async () => {
        for (const socket of sockets) socket.disconnect();
        await api?.close();
      });

      it('counts requests exactly, by route template and status sent', () => {
        const count = (method: string, route: string, status: number) =>
          sampleValue(samples, 'http_requests_total', { method, route, status_code: String(status) });
        assert.equal(count('POST', '/users', 201), 6);
        assert.equal(count('GET', '/users/:id', 200), 5);
        assert.equal(count('POST', '/users', 400), 1);
        assert.equal(count('POST', '/users', 409), 1);
        assert.equal(count('GET', '/users/:id', 400), 1);
        assert.equal(count('GET', '/users/:id', 404), 1);
        assert.equal(count('GET', 'UNMATCHED', 404), RANDOM_PATHS);
        assert.equal(
          sumOf(samples, 'http_requests_total'),
          6 + 5 + 1 + 1 + 1 + 1 + RANDOM_PATHS,
          'no other request counted (scrapes excluded)',
        );
      });

      it('keeps series bounded: only route templates, never raw paths', () => {
        const series = samples.filter((s) => s.name === 'http_requests_total');
        assert.equal(series.length, 7);
        assert.deepEqual([...new Set(series.map((s) => s.labels.route))].sort(), ['/users', '/users/:id', 'UNMATCHED']);
        const buckets = samples.filter((s) => s.name === 'http_request_duration_seconds_bucket');
        assert.equal(buckets.length, 7 * 12, '11 buckets + Inf per series');
        for (const s of series) {
          assert.equal(sampleValue(samples, 'http_request_duration_seconds_count', s.labels), s.value, 'histogram count = counter');
        }
      });

      it('tracks Socket.IO connections, openings and messages', async () => {
        assert.equal(sampleValue(samples, 'websocket_connections', { namespace: '/' }), 3);
        assert.equal(sampleValue(samples, 'websocket_connections_opened_total', { namespace: '/' }), 4);
        assert.equal(sampleValue(samples, 'websocket_messages_received_total', { namespace: '/' }), 3);
        assert.equal(received.length >= 6 * 3, true, 'connected clients received user.created events');
      });

      it('counts email jobs completed and failed, and their duration', () => {
        assert.equal(sampleValue(samples, 'queue_jobs_completed_total', { queue: 'email' }), 5);
        assert.equal(sampleValue(samples, 'queue_jobs_failed_total', { queue: 'email' }), 1);
        assert.equal(sampleValue(samples, 'queue_job_duration_seconds_count', { queue: 'email' }), 5 + 3, 'one observation per attempt');
        for (const state of ['waiting', 'active', 'delayed']) {
          assert.equal(sampleValue(samples, 'queue_jobs', { queue: 'email', state }), 0, state);
        }
      });

      it('reports the database pool, build info and Node runtime', () => {
        const max = sampleValue(samples, 'db_pool_max_connections');
        assert.equal(max, backends === 'real' ? 10 : 1);
        const active = sampleValue(samples, 'db_pool_connections', { state: 'active' }) ?? -1;
        const idle = sampleValue(samples, 'db_pool_connections', { state: 'idle' }) ?? -1;
        assert.ok(active >= 0 && idle >= 0 && active + idle <= (max ?? 0));
        assert.equal(sampleValue(samples, 'db_pool_pending_requests'), 0);
        const info = samples.find((s) => s.name === 'app_build_info');
        assert.equal(info?.value, 1);
        assert.equal(info?.labels.node_version, process.version);
        assert.match(info?.labels.version ?? '', /^\d+\.\d+\.\d+/);
        for (const name of [
          'nodejs_eventloop_lag_p99_seconds',
          'nodejs_heap_size_used_bytes',
          'nodejs_heap_size_limit_bytes',
          'process_cpu_seconds_total',
        ]) {
          assert.ok((sampleValue(samples, name) ?? -1) > 0 || name === 'nodejs_eventloop_lag_p99_seconds', name);
        }
      });

      it('passes promtool check metrics with no warnings', async () => {
        const text = await (await fetch(`${api.url}/metrics`)).text();
        assert.deepEqual(promtoolCheckMetrics(text), { status: 0, output: '' });
        assert.ok(parseExposition(text).length > 50);
      });
    });
  }
}
