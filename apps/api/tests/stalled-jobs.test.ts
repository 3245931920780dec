import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isolatedEnv, postJson, spawnApi, waitUntilListening } from './support/api.js';
import { freePort, waitFor } from './support/services.js';
import { startSmtp } from './support/smtp.js';

/**
 * The API SIGKILLed while welcome emails are being sent (BullMQ on the machine's Redis): the
 * restarted process takes the jobs whose worker died back (BullMQ's stalled-job check) and sends
 * them. With BullMQ's defaults that took about a minute; the worker's lock and check intervals
 * bring it under 10 s.
 */
describe('welcome emails after a crash (BullMQ)', () => {
  it('the jobs running when the API was SIGKILLed are sent within 10 s of the restart', async (t) => {
    const SMTP_DELAY_MS = 1500;
    const smtp = await startSmtp(SMTP_DELAY_MS);
    const port = await freePort();
    const { env, cleanup } = await isolatedEnv('real', 'express', { PORT: String(port), LOG_LEVEL: 'info', SMTP_URL: smtp.url });
    const base = `http://127.0.0.1:${port}`;
    const emails = [0, 1, 2].map((i) => `crash-${i}@example.com`);
    let api = spawnApi(env);
    try {
      await waitUntilListening(api);
      for (const email of emails) assert.equal((await postJson(`${base}/users`, { email, name: 'Crash Test' })).status, 201);
      await waitFor('the three email jobs to be running', () => smtp.inFlight === 3 || undefined, 20_000);
      api.child.kill('SIGKILL');
      await api.exited;
      // The test sink records a message once its delay is over, whether or not its sender still
      // lives: let those three land, then count only what arrives after the restart.
      await new Promise((resolve) => setTimeout(resolve, SMTP_DELAY_MS + 300));
      const before = smtp.received.length;

      api = spawnApi(env);
      const restarted = Date.now();
      await waitUntilListening(api);
      const listening = Date.now();
      await waitFor(
        'every interrupted welcome email, sent by the restarted API',
        () => {
          const sent = new Set(smtp.received.slice(before).flatMap((mail) => mail.to));
          return emails.every((email) => sent.has(email)) || undefined;
        },
        30_000,
      );
      const seconds = (Date.now() - restarted) / 1000;
      t.diagnostic(
        `interrupted emails sent ${seconds.toFixed(1)} s after the restart (${((listening - restarted) / 1000).toFixed(1)} s of it to listen)`,
      );
      assert.ok(seconds <= 10, `took ${seconds.toFixed(1)} s`);
    } finally {
      api.child.kill('SIGKILL');
      await api.exited;
      await smtp.close();
      await cleanup();
    }
  });
});
