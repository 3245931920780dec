import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ADAPTERS, isolatedEnv, json, postJson, spawnApi, waitUntilListening } from './support/api.js';
import { freePort, waitFor } from './support/services.js';
import { startSmtp } from './support/smtp.js';

/** Sends the headers and half the body of a POST, and returns a function that sends the rest. */
function halfSentPost(url: string, body: string): { finish(): void; response: Promise<{ status: number; body: string }> } {
  const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
  });
  req.write(body.slice(0, 10));
  return { finish: () => req.end(body.slice(10)), response };
}

for (const adapter of ADAPTERS) {
  describe(`process lifecycle (${adapter})`, () => {
    it('SIGTERM: readiness turns 503, the in-flight request and the running email job finish, exit 0', async () => {
      const smtp = await startSmtp(1500);
      const port = await freePort();
      const { env, cleanup } = await isolatedEnv('embedded', adapter, {
        PORT: String(port),
        LOG_LEVEL: 'info',
        SMTP_URL: smtp.url,
        SHUTDOWN_DRAIN_MS: '1500',
      });
      const api = spawnApi(env);
      try {
        await waitUntilListening(api);
        const base = `http://127.0.0.1:${port}`;
        assert.equal((await postJson(`${base}/users`, { email: 'first@example.com', name: 'First' })).status, 201);
        await waitFor('the email job to be running', () => smtp.inFlight === 1 || undefined);

        const pending = halfSentPost(`${base}/users`, JSON.stringify({ email: 'second@example.com', name: 'Second' }));
        await new Promise((r) => setTimeout(r, 100));
        api.child.kill('SIGTERM');
        await waitFor('readiness to report 503', async () => ((await fetch(`${base}/health/ready`)).status === 503 ? true : undefined));
        const ready = await json(await fetch(`${base}/health/ready`));
        assert.equal((ready.error as Record<string, { status: string }>).lifecycle.status, 'down');
        assert.equal((await fetch(`${base}/health/live`)).status, 200, 'liveness is unaffected');

        pending.finish();
        const answered = await pending.response;
        assert.equal(answered.status, 201, answered.body);

        assert.equal(await api.exited, 0, api.output());
        assert.equal(smtp.received.length >= 1, true, 'the running job completed before exit');
        assert.deepEqual(smtp.received[0].to, ['first@example.com']);
        assert.match(api.output(), /"msg":"stopped"/);
      } finally {
        api.child.kill('SIGKILL');
        await smtp.close();
        await cleanup();
      }
    });

    it('SIGTERM with a client polling over one keep-alive connection: told to reconnect, exit 0 long before the timeout', async () => {
      const port = await freePort();
      const { env, cleanup } = await isolatedEnv('embedded', adapter, {
        PORT: String(port),
        LOG_LEVEL: 'info',
        SHUTDOWN_DRAIN_MS: '500',
        SHUTDOWN_TIMEOUT_MS: '20000',
      });
      const api = spawnApi(env);
      // One socket, reused for every request: what a load balancer's health checker does.
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const connectionHeaders: string[] = [];
      let polling = true;
      const poll = async () => {
        while (polling) {
          await new Promise<void>((resolve) => {
            const req = request(`http://127.0.0.1:${port}/health/live`, { agent }, (res) => {
              connectionHeaders.push(String(res.headers.connection));
              res.resume();
              res.on('end', resolve);
            });
            req.on('error', () => resolve());
            req.end();
          });
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      try {
        await waitUntilListening(api);
        const poller = poll();
        await waitFor('a few keep-alive polls', () => connectionHeaders.length >= 5 || undefined);
        assert.ok(
          connectionHeaders.every((h) => h === 'keep-alive'),
          connectionHeaders.join(),
        );
        const signalled = Date.now();
        api.child.kill('SIGTERM');
        assert.equal(await api.exited, 0, api.output());
        const tookMs = Date.now() - signalled;
        polling = false;
        await poller;
        assert.ok(tookMs < 5000, `exited ${tookMs} ms after SIGTERM (drain 500 ms, timeout 20 s)`);
        assert.ok((connectionHeaders as string[]).includes('close'), 'responses during shutdown carry Connection: close');
      } finally {
        polling = false;
        agent.destroy();
        api.child.kill('SIGKILL');
        await cleanup();
      }
    });
  });
}

describe('embedded defaults', () => {
  it('keep users across a restart and write dev mail to DATA_DIR/mail', async () => {
    const port = await freePort();
    const { env, cleanup } = await isolatedEnv('embedded', 'express', { PORT: String(port), LOG_LEVEL: 'info' });
    const base = `http://127.0.0.1:${port}`;
    try {
      const first = spawnApi(env);
      await waitUntilListening(first);
      const user = await json(await postJson(`${base}/users`, { email: 'kept@example.com', name: 'Kept' }));
      const mailDir = join(env.DATA_DIR, 'mail');
      const file = await waitFor('the welcome mail file', async () =>
        (await readdir(mailDir).catch(() => [])).find((f) => f.endsWith('.eml')),
      );
      const eml = await readFile(join(mailDir, file), 'utf8');
      assert.match(eml, /^To: kept@example\.com$/m);
      assert.match(eml, /^Subject: Welcome, Kept$/m);
      first.child.kill('SIGTERM');
      assert.equal(await first.exited, 0);

      const second = spawnApi(env);
      await waitUntilListening(second);
      try {
        const res = await fetch(`${base}/users/${user.id}`);
        assert.equal(res.status, 200);
        assert.deepEqual(await json(res), user);
      } finally {
        second.child.kill('SIGTERM');
        assert.equal(await second.exited, 0);
      }
    } finally {
      await cleanup();
    }
  });
});

describe('production safety', () => {
  it('requires the bearer token on /metrics, and serves it on the management port only when one is set', async () => {
    const [port, managementPort] = [await freePort(), await freePort()];
    const token = 'a'.repeat(40);
    const { env, cleanup } = await isolatedEnv('embedded', 'fastify', {
      NODE_ENV: 'production',
      PORT: String(port),
      MANAGEMENT_PORT: String(managementPort),
      METRICS_TOKEN: token,
      LOG_LEVEL: 'info',
    });
    const api = spawnApi(env);
    try {
      await waitUntilListening(api);
      const app = `http://127.0.0.1:${port}`;
      const mgmt = `http://127.0.0.1:${managementPort}`;
      assert.equal((await fetch(`${app}/metrics`)).status, 404, 'not on the public port');
      assert.equal((await fetch(`${app}/health/ready`)).status, 404, 'not on the public port');
      assert.equal((await fetch(`${mgmt}/metrics`)).status, 401);
      assert.equal((await fetch(`${mgmt}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
      const ok = await fetch(`${mgmt}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /^app_build_info\{/m);
      assert.equal((await fetch(`${mgmt}/health/ready`)).status, 200);
      assert.ok(!api.output().includes(token), 'the token is never logged');
    } finally {
      api.child.kill('SIGTERM');
      await api.exited;
      await cleanup();
    }
  });
});
