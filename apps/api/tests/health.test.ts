import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ADAPTERS, BACKENDS, json, postJson, startApi } from './support/api.js';
import { freePort } from './support/services.js';

type Report = Record<string, Record<string, { status: string; kind?: string; backend?: string }>>;

for (const adapter of ADAPTERS) {
  for (const backends of BACKENDS) {
    it(`readiness reports each dependency (${adapter}, ${backends})`, async () => {
      const api = await startApi(backends, adapter);
      try {
        const res = await fetch(`${api.url}/health/ready`);
        assert.equal(res.status, 200);
        const body = (await json(res)) as unknown as Report & { status: string };
        assert.equal(body.status, 'ok');
        assert.deepEqual(body.details.database, { status: 'up', kind: backends === 'real' ? 'postgres' : 'pglite' });
        assert.deepEqual(body.details.queue, { status: 'up', backend: backends === 'real' ? 'bullmq' : 'memory' });
        assert.equal((await fetch(`${api.url}/health/live`)).status, 200);
      } finally {
        await api.close();
      }
    });
  }

  it(`Redis unreachable: readiness 503 with the queue down, the API keeps answering (${adapter})`, async () => {
    const deadPort = await freePort();
    const api = await startApi('real', adapter, { REDIS_URL: `redis://127.0.0.1:${deadPort}` });
    try {
      const started = Date.now();
      const res = await fetch(`${api.url}/health/ready`);
      assert.equal(res.status, 503);
      assert.ok(Date.now() - started < 3000, 'a dead dependency does not hang the probe');
      const body = (await json(res)) as unknown as Report;
      assert.equal(body.error.queue.status, 'down');
      assert.equal(body.info.database.status, 'up');
      assert.equal((await fetch(`${api.url}/health/live`)).status, 200);
      const created = await postJson(`${api.url}/users`, { email: 'while-down@example.com', name: 'W' });
      assert.equal(created.status, 201, 'the user is created; the email is what waits');
      const metrics = await fetch(`${api.url}/metrics`);
      assert.equal(metrics.status, 200, 'a dead queue backend does not break the scrape');
      assert.doesNotMatch(await metrics.text(), /^queue_jobs\{/m);
    } finally {
      await api.close();
    }
  });
}
