import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { isolatedEnv, json, postJson, spawnApi, waitUntilListening } from './support/api.js';
import { startThrowawayRedis } from './support/redis-server.js';
import { freePort, waitFor } from './support/services.js';
import { type ReceivedMail, startSmtp } from './support/smtp.js';

type Report = Record<string, Record<string, { status: string }>>;

/** How many welcome emails each address received. */
function perRecipient(received: readonly ReceivedMail[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const mail of received) for (const to of mail.to) counts.set(to, (counts.get(to) ?? 0) + 1);
  return counts;
}

describe('Redis outage', () => {
  it('every user signed up before and during the outage gets exactly one welcome email once Redis is back, with no manual step', async () => {
    const redis = await startThrowawayRedis();
    const smtp = await startSmtp();
    const port = await freePort();
    const { env, cleanup } = await isolatedEnv('real', 'express', {
      PORT: String(port),
      REDIS_URL: redis.url,
      SMTP_URL: smtp.url,
      OUTBOX_POLL_MS: '200',
      LOG_LEVEL: 'info',
      RATE_LIMIT_WRITES: '0',
    });
    const api = spawnApi(env);
    const base = `http://127.0.0.1:${port}`;
    const signedUp: string[] = [];
    const signUp = async (email: string) => {
      const res = await postJson(`${base}/users`, { email, name: email.split('@')[0] });
      assert.equal(res.status, 201, `${email}: ${await res.text()}`);
      signedUp.push(email);
    };
    try {
      await waitUntilListening(api);
      for (let i = 0; i < 3; i++) await signUp(`before-${i}@example.com`);
      await waitFor('the welcome emails sent before the outage', () => smtp.received.length === 3 || undefined);

      await redis.kill('SIGKILL');
      const ready = await waitFor('readiness to report the queue down', async () => {
        const res = await fetch(`${base}/health/ready`);
        return res.status === 503 ? ((await json(res)) as unknown as Report) : undefined;
      });
      assert.equal(ready.error.queue.status, 'down');
      assert.equal(ready.info.database.status, 'up');
      assert.equal((await fetch(`${base}/health/live`)).status, 200, 'liveness is unaffected: restarting would not bring Redis back');

      // Sequential and concurrent signups while Redis is gone: every one answers 201 at once.
      const started = Date.now();
      for (let i = 0; i < 4; i++) await signUp(`during-${i}@example.com`);
      await Promise.all(Array.from({ length: 8 }, (_, i) => signUp(`during-burst-${i}@example.com`)));
      assert.ok(Date.now() - started < 5000, `signups did not wait for Redis (${Date.now() - started} ms)`);
      await sleep(1000);
      assert.equal(smtp.received.length, 3, 'nothing can be sent while the queue is down');
      assert.equal((await fetch(`${base}/health/ready`)).status, 503);

      await redis.restart();
      const back = Date.now();
      await waitFor('every welcome email', () => smtp.received.length >= signedUp.length || undefined, 30_000);
      const recoveryMs = Date.now() - back;
      // Room for a late duplicate to show up before counting.
      await sleep(1500);
      const counts = perRecipient(smtp.received);
      assert.deepEqual([...counts.keys()].sort(), [...signedUp].sort(), 'every user got a welcome email');
      for (const [to, n] of counts) assert.equal(n, 1, `${to} got ${n} welcome emails`);
      assert.ok(recoveryMs < 15_000, `recovered within ${recoveryMs} ms of Redis coming back`);
      await waitFor('readiness to recover', async () => (await fetch(`${base}/health/ready`)).status === 200 || undefined);
      assert.match(api.output(), /outbox relay cannot hand messages over/);
    } finally {
      api.child.kill('SIGTERM');
      const code = await api.exited;
      await smtp.close();
      await redis.close();
      await cleanup();
      assert.equal(code, 0, api.output().slice(-2000));
    }
  });
});
