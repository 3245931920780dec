import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ADAPTERS, isolatedEnv, postJson, type RunningApi, spawnApi, startApi, waitUntilListening } from './support/api.js';
import { buildRequest, rawRequest } from './support/raw-http.js';
import { freePort, waitFor } from './support/services.js';

/** What helmet / @fastify/helmet set by default, which both adapters must send on every answer. */
const SECURITY_HEADERS = {
  'x-content-type-options': /^nosniff$/,
  'x-frame-options': /^SAMEORIGIN$/,
  'content-security-policy': /default-src 'self'/,
  'strict-transport-security': /max-age=\d+/,
  'referrer-policy': /^no-referrer$/,
  'cross-origin-opener-policy': /^same-origin$/,
  'cross-origin-resource-policy': /^same-origin$/,
  'x-permitted-cross-domain-policies': /^none$/,
} as const;

const preflight = (url: string, origin: string) =>
  fetch(`${url}/users`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });

for (const adapter of ADAPTERS) {
  describe(`CORS and security headers (${adapter})`, () => {
    let closed: RunningApi;
    let open: RunningApi;
    before(async () => {
      [closed, open] = await Promise.all([startApi('real', adapter), startApi('real', adapter, { CORS_ORIGINS: 'https://a.example' })]);
    });
    after(async () => {
      await Promise.all([closed?.close(), open?.close()]);
    });

    it('without CORS_ORIGINS, answers no cross-origin request with Access-Control-Allow-Origin', async () => {
      for (const res of [
        await preflight(closed.url, 'https://a.example'),
        await fetch(`${closed.url}/users`, { headers: { origin: 'https://a.example' } }),
        await postJson(`${closed.url}/users`, { email: 'cors-off@example.com', name: 'C' }, { origin: 'https://evil.example' }),
      ]) {
        assert.equal(res.headers.get('access-control-allow-origin'), null);
        assert.equal(res.headers.get('access-control-allow-credentials'), null);
      }
    });

    it('with CORS_ORIGINS=https://a.example, allows exactly that origin', async () => {
      const allowed = await preflight(open.url, 'https://a.example');
      assert.ok(allowed.status === 204 || allowed.status === 200, `preflight status ${allowed.status}`);
      assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://a.example');
      assert.match(allowed.headers.get('access-control-allow-methods') ?? '', /POST/);
      const simple = await fetch(`${open.url}/users`, { headers: { origin: 'https://a.example' } });
      assert.equal(simple.headers.get('access-control-allow-origin'), 'https://a.example');
      assert.match(simple.headers.get('vary') ?? '', /origin/i);

      for (const origin of ['https://b.example', 'https://a.example.evil.com', 'http://a.example', 'null']) {
        const denied = await preflight(open.url, origin);
        assert.equal(denied.headers.get('access-control-allow-origin'), null, origin);
        const get = await fetch(`${open.url}/users`, { headers: { origin } });
        assert.equal(get.headers.get('access-control-allow-origin'), null, origin);
      }
    });

    it('sends the security headers and no X-Powered-By on successes, errors and probes', async () => {
      const answers: [string, Response][] = [
        ['GET /users', await fetch(`${closed.url}/users`)],
        ['404', await fetch(`${closed.url}/no/such/route`)],
        ['400', await fetch(`${closed.url}/users/not-a-uuid`)],
        ['415', await fetch(`${closed.url}/users`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })],
        ['413', await postJson(`${closed.url}/users`, { email: 'big@example.com', name: 'x'.repeat(200_000) })],
        ['/health/live', await fetch(`${closed.url}/health/live`)],
        ['/metrics', await fetch(`${closed.url}/metrics`)],
      ];
      for (const [what, res] of answers) {
        await res.arrayBuffer();
        assert.equal(res.headers.get('x-powered-by'), null, what);
        for (const [name, pattern] of Object.entries(SECURITY_HEADERS))
          assert.match(res.headers.get(name) ?? '(absent)', pattern, `${what}: ${name}`);
      }
      // On Fastify, answered by the router before any hook runs.
      const badUrl = await rawRequest(closed.url, buildRequest('GET', '/users/%zz'));
      assert.ok(badUrl.kind === 'response' && badUrl.response.status === 400);
      assert.equal(badUrl.response.headers['x-powered-by'], undefined);
      for (const [name, pattern] of Object.entries(SECURITY_HEADERS))
        assert.match(badUrl.response.headers[name] ?? '(absent)', pattern, `bad URL: ${name}`);
    });
  });
}

/** Distinctive values, so that finding one anywhere is unambiguous. */
function secrets() {
  const tag = () => randomBytes(8).toString('hex');
  return {
    metricsToken: `metrics-token-${tag()}`,
    dbPassword: `db-password-${tag()}`,
    redisPassword: `redis-password-${tag()}`,
    smtpPassword: `smtp-password-${tag()}`,
    bearer: `bearer-${tag()}`,
    queryToken: `query-token-${tag()}`,
    cookie: `cookie-${tag()}`,
  };
}

function leaks(haystack: string, values: Record<string, string>): string[] {
  // Also the URL-encoded forms: a password inside a URL may be logged encoded.
  return Object.entries(values)
    .filter(([, value]) => haystack.includes(value) || haystack.includes(encodeURIComponent(value)))
    .map(([name]) => name);
}

for (const adapter of ADAPTERS) {
  describe(`no secret in logs, metric labels or error bodies (${adapter})`, () => {
    it('serves traffic, good and bad, at debug level without showing any secret', async () => {
      const s = secrets();
      const port = await freePort();
      const deadSmtp = await freePort();
      const { env, cleanup } = await isolatedEnv('real', adapter, {
        NODE_ENV: 'production',
        PORT: String(port),
        LOG_LEVEL: 'debug',
        METRICS_TOKEN: s.metricsToken,
        SMTP_URL: `smtp://mailer:${s.smtpPassword}@127.0.0.1:${deadSmtp}`,
      });
      // The machine's PostgreSQL trusts local connections, so a password is accepted and ignored;
      // Redis has no password, which ioredis tolerates (it warns).
      const dbUrl = new URL(env.DATABASE_URL);
      dbUrl.password = s.dbPassword;
      env.DATABASE_URL = dbUrl.toString();
      env.REDIS_URL = `redis://:${s.redisPassword}@127.0.0.1:6379`;
      const api = spawnApi(env);
      const bodies: string[] = [];
      const base = `http://127.0.0.1:${port}`;
      const call = async (path: string, init: RequestInit = {}) => {
        const res = await fetch(`${base}${path}`, init);
        const text = await res.text();
        bodies.push(`${res.status} ${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${text}`);
        return { status: res.status, text };
      };
      try {
        await waitUntilListening(api);
        const auth = { authorization: `Bearer ${s.bearer}`, cookie: `session=${s.cookie}` };
        const jsonHeaders = { ...auth, 'content-type': 'application/json' };
        const created = await call(`/users?token=${s.queryToken}`, {
          method: 'POST',
          headers: jsonHeaders,
          body: JSON.stringify({ email: 'secret-test@example.com', name: 'S' }),
        });
        assert.equal(created.status, 201, created.text);
        const { id } = JSON.parse(created.text) as { id: string };
        const statuses = [
          (await call(`/users/${id}?token=${s.queryToken}`, { headers: auth })).status,
          (await call(`/users?limit=abc&token=${s.queryToken}`, { headers: auth })).status,
          (await call(`/no/such/route?token=${s.queryToken}`, { headers: auth })).status,
          (await call(`/users/%zz?token=${s.queryToken}`, { headers: auth })).status,
          (await call(`/users?token=${s.queryToken}`, { method: 'POST', headers: jsonHeaders, body: '{"email":' })).status,
          (await call('/users', { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: s.queryToken })).status,
          (
            await call('/users', {
              method: 'POST',
              headers: jsonHeaders,
              body: JSON.stringify({ email: 'x@example.com', name: s.queryToken.repeat(20_000) }),
            })
          ).status,
          (await call('/metrics')).status,
          (await call('/metrics', { headers: { authorization: `Bearer ${s.bearer}` } })).status,
          (await call(`/metrics?token=${s.metricsToken}`)).status,
          (await call('/health/ready', { headers: auth })).status,
        ];
        assert.deepEqual(statuses.slice(0, 10), [200, 400, 404, 400, 400, 415, 413, 401, 401, 401]);
        const metrics = await call('/metrics', { headers: { authorization: `Bearer ${s.metricsToken}` } });
        assert.equal(metrics.status, 200);
        // The welcome email cannot be sent (no SMTP server there): its failures are logged too.
        await waitFor('the email job to fail for good', () => api.output().includes('"msg":"job failed"') || undefined, 20_000);
        api.child.kill('SIGTERM');
        assert.equal(await api.exited, 0);

        assert.deepEqual(leaks(api.output(), s), [], 'stdout/stderr');
        assert.deepEqual(leaks(bodies.join('\n'), s), [], 'responses');
        assert.deepEqual(leaks(metrics.text, s), [], '/metrics');
        assert.match(api.output(), /"msg":"request"/, 'access log lines were written');
        assert.match(api.output(), /"DATABASE_URL":"(\(set\)|\[redacted\])"/, 'the configuration was logged, redacted');
      } finally {
        api.child.kill('SIGKILL');
        await cleanup();
      }
    });
  });
}

describe('no secret in the output of a failed start-up', () => {
  const s = secrets();
  const cases: [string, Record<string, string>, number][] = [
    [
      'an invalid variable next to valid secrets (exit 78)',
      {
        PORT: 'not-a-port',
        METRICS_TOKEN: s.metricsToken,
        DATABASE_URL: `postgres://app:${s.dbPassword}@127.0.0.1:5432/app`,
        SMTP_URL: `smtp://mailer:${s.smtpPassword}@127.0.0.1:25`,
      },
      78,
    ],
    [
      'the secrets themselves invalid (exit 78)',
      {
        METRICS_TOKEN: s.metricsToken.slice(-12),
        DATABASE_URL: `mysql://app:${s.dbPassword}@127.0.0.1/app`,
        REDIS_URL: `http://:${s.redisPassword}@127.0.0.1`,
        SMTP_URL: `ftp://mailer:${s.smtpPassword}@127.0.0.1`,
      },
      78,
    ],
  ];
  for (const [name, env, code] of cases) {
    it(name, async () => {
      const api = spawnApi({ ...env, DATA_DIR: '/nonexistent-never-created' });
      assert.equal(await api.exited, code, api.output());
      assert.match(api.output(), /Invalid configuration/);
      assert.deepEqual(leaks(api.output(), { ...s, metricsTokenTail: s.metricsToken.slice(-12) }), [], api.output());
    });
  }

  it('a database that refuses connections at start-up (exit 1)', async () => {
    const { env, cleanup } = await isolatedEnv('embedded', 'express', {
      LOG_LEVEL: 'debug',
      PORT: String(await freePort()),
      DATABASE_URL: `postgres://app:${s.dbPassword}@127.0.0.1:${await freePort()}/app`,
      METRICS_TOKEN: s.metricsToken,
    });
    const api = spawnApi(env);
    try {
      assert.equal(await api.exited, 1, api.output());
      assert.match(api.output(), /start-up failed/);
      assert.deepEqual(leaks(api.output(), s), [], api.output());
    } finally {
      api.child.kill('SIGKILL');
      await cleanup();
    }
  });
});
