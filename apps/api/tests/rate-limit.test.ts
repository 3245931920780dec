import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { writeRateLimit } from '../src/http/rate-limit.js';
import { ADAPTERS, type RunningApi, startApi } from './support/api.js';
import { scrape, sampleValue } from './support/scrape.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/**
 * One request on a fresh connection, optionally from another loopback address: fetch can neither
 * choose its source address nor avoid reusing a pooled connection.
 */
function send(
  url: string,
  method: string,
  path: string,
  options: { body?: unknown; from?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      {
        method,
        agent: false,
        localAddress: options.from,
        headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...options.headers },
        signal: AbortSignal.timeout(10_000),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

let emails = 0;
const newUser = () => ({ email: `rl${emails++}-${Date.now()}@example.com`, name: 'Rate' });
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

describe('write rate limit configuration', () => {
  it('is on by default with a generous budget, and 0 turns it off', () => {
    const config = loadConfig({});
    assert.equal(config.RATE_LIMIT_WRITES, 600);
    assert.equal(config.RATE_LIMIT_WINDOW_MS, 60_000);
    assert.equal(writeRateLimit(config).providers.length, 1);
    const off = writeRateLimit(loadConfig({ RATE_LIMIT_WRITES: '0' }));
    assert.deepEqual(off, { imports: [], providers: [] });
  });

  it('rejects out-of-range values naming the variable', () => {
    for (const [env, expected] of [
      [{ RATE_LIMIT_WRITES: '-1' }, /^RATE_LIMIT_WRITES: expected at least 0/],
      [{ RATE_LIMIT_WRITES: 'lots' }, /^RATE_LIMIT_WRITES: expected a number/],
      [{ RATE_LIMIT_WINDOW_MS: '10' }, /^RATE_LIMIT_WINDOW_MS: expected at least 1000/],
    ] as const) {
      assert.throws(
        () => loadConfig(env),
        (error: unknown) => error instanceof ConfigError && error.problems.length === 1 && expected.test(error.problems[0]),
      );
    }
  });
});

for (const adapter of ADAPTERS) {
  describe(`write rate limit (${adapter})`, () => {
    const LIMIT = 5;
    const WINDOW_MS = 6000;
    let direct: RunningApi;
    let proxied: RunningApi;

    before(async () => {
      [direct, proxied] = await Promise.all([
        startApi('real', adapter, { RATE_LIMIT_WRITES: String(LIMIT), RATE_LIMIT_WINDOW_MS: String(WINDOW_MS) }),
        startApi('real', adapter, { RATE_LIMIT_WRITES: '2', RATE_LIMIT_WINDOW_MS: '60000', TRUST_PROXY: 'true' }),
      ]);
    });
    after(async () => {
      await Promise.all([direct?.close(), proxied?.close()]);
    });

    let retryAfter = 0;

    it('counts every write of a client against one budget, then answers 429 with Retry-After and the error shape', async () => {
      // Whatever the outcome, each write counts: two creations, a 400, a 404 and a 204.
      const first = await send(direct.url, 'POST', '/users', { body: newUser() });
      assert.equal(first.status, 201);
      assert.equal(first.headers['x-ratelimit-limit'], String(LIMIT));
      assert.equal(first.headers['x-ratelimit-remaining'], String(LIMIT - 1));
      assert.equal((await send(direct.url, 'POST', '/users', { body: { email: 'bad' } })).status, 400);
      assert.equal((await send(direct.url, 'DELETE', `/users/${UNKNOWN_ID}`)).status, 404);
      const second = await send(direct.url, 'POST', '/users', { body: newUser() });
      assert.equal(second.status, 201);
      assert.equal((await send(direct.url, 'DELETE', `/users/${second.body.id}`)).status, 204);

      const limited = await send(direct.url, 'POST', '/users', { body: newUser() });
      assert.equal(limited.status, 429);
      assert.equal(limited.body.statusCode, 429);
      assert.equal(limited.body.error, 'Too Many Requests');
      assert.match(String(limited.body.message), /^too many write requests: at most 5 per 6 s from one client; retry in \d+ s$/);
      assert.equal(limited.body.requestId, limited.headers['x-request-id']);
      assert.match(String(limited.headers['retry-after']), /^\d+$/);
      retryAfter = Number(limited.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= WINDOW_MS / 1000, `Retry-After ${retryAfter}`);
      assert.equal((await send(direct.url, 'DELETE', `/users/${UNKNOWN_ID}`)).status, 429, 'DELETE shares the budget');
    });

    it('while a client is limited: its reads, /metrics and /health still answer, and other clients still write', async () => {
      const reads = await Promise.all([
        ...Array.from({ length: 10 }, () => send(direct.url, 'GET', '/users?limit=5')),
        send(direct.url, 'GET', `/users/${UNKNOWN_ID}`),
        send(direct.url, 'GET', '/health/live'),
        send(direct.url, 'GET', '/health/ready'),
      ]);
      assert.deepEqual(
        reads.map((r) => r.status),
        [...Array(10).fill(200), 404, 200, 200],
      );
      assert.equal((await fetch(`${direct.url}/metrics`)).status, 200);
      // Not behind a proxy: a client cannot buy a new budget with a forged X-Forwarded-For.
      const forged = await send(direct.url, 'POST', '/users', { body: newUser(), headers: { 'x-forwarded-for': '198.51.100.7' } });
      assert.equal(forged.status, 429);
      // Another address has a budget of its own.
      assert.equal((await send(direct.url, 'POST', '/users', { body: newUser(), from: '127.0.0.2' })).status, 201);
      const samples = await scrape(direct.url);
      assert.equal(sampleValue(samples, 'http_requests_total', { method: 'POST', route: '/users', status_code: '429' }), 2);
      assert.equal(sampleValue(samples, 'http_requests_total', { method: 'DELETE', route: '/users/:id', status_code: '429' }), 1);
    });

    it('lets the client write again once Retry-After has passed', async () => {
      await sleep(retryAfter * 1000 + 200);
      assert.equal((await send(direct.url, 'POST', '/users', { body: newUser() })).status, 201);
    });

    it('with TRUST_PROXY=true, keys the budget on the forwarded client address (IPv6 by /64)', async () => {
      const from = (ip: string) => send(proxied.url, 'POST', '/users', { body: newUser(), headers: { 'x-forwarded-for': ip } });
      assert.deepEqual(
        [(await from('203.0.113.1')).status, (await from('203.0.113.1')).status, (await from('203.0.113.1')).status],
        [201, 201, 429],
      );
      assert.equal((await from('203.0.113.2')).status, 201, 'another forwarded client');
      assert.deepEqual([(await from('2001:db8:1:2::1')).status, (await from('2001:db8:1:2::2')).status], [201, 201]);
      assert.equal((await from('2001:db8:1:2:ffff::9')).status, 429, 'same /64');
      assert.equal((await from('2001:db8:1:3::1')).status, 201, 'another /64');
    });
  });
}
