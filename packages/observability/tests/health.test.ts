import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HealthRegistry, type ReadinessCheck } from '../src/index.js';
import { ADAPTERS, withApp } from './support/app.js';
import { REQUEST_TIMEOUT_MS, waitFor } from './support/metrics.js';

interface Indicator {
  status: 'up' | 'down';
  [detail: string]: unknown;
}

interface HealthBody {
  status: 'ok' | 'error' | 'shutting_down';
  info?: Record<string, Indicator>;
  error?: Record<string, Indicator>;
  details: Record<string, Indicator>;
}

async function get(url: string): Promise<{ status: number; body: HealthBody; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  assert.match(String(res.headers.get('content-type')), /^application\/json/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const body = (await res.json()) as HealthBody;
  return { status: res.status, body, ms: performance.now() - started };
}

/** Registers checks the way an application does: from a provider, through the exported HealthRegistry. */
function checksProvider(checks: Record<string, ReadinessCheck>) {
  @Injectable()
  class RegistersChecks implements OnModuleInit {
    constructor(private readonly health: HealthRegistry) {}
    onModuleInit(): void {
      for (const [name, check] of Object.entries(checks)) this.health.addReadinessCheck(name, check);
    }
  }
  return RegistersChecks;
}

const up =
  (details: Record<string, unknown> = {}): ReadinessCheck =>
  async () =>
    details;

for (const adapter of ADAPTERS) {
  describe(`health (${adapter})`, () => {
    it('reports every readiness check, 200 when all are up', () =>
      withApp(
        adapter,
        { providers: [checksProvider({ database: up({ driver: 'pglite' }), queue: async () => undefined })] },
        async ({ url }) => {
          const ready = await get(`${url}/health/ready`);
          assert.equal(ready.status, 200);
          assert.equal(ready.body.status, 'ok');
          assert.deepEqual(ready.body.details, { database: { status: 'up', driver: 'pglite' }, queue: { status: 'up' } });
          assert.deepEqual(ready.body.error, {});
          const live = await get(`${url}/health/live`);
          assert.equal(live.status, 200);
          assert.deepEqual(live.body.details, {}, 'liveness checks no dependency');
        },
      ));

    it('answers 503 naming the check that threw, the others still up', () => {
      const checks = {
        database: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
        },
        queue: up({ backend: 'in-process' }),
        mail: () => Promise.reject('smtp said no'),
      };
      return withApp(adapter, { providers: [checksProvider(checks)] }, async ({ url }) => {
        const ready = await get(`${url}/health/ready`);
        assert.equal(ready.status, 503);
        assert.equal(ready.body.status, 'error');
        assert.deepEqual(ready.body.error, {
          database: { status: 'down', message: 'connect ECONNREFUSED 127.0.0.1:5432' },
          mail: { status: 'down', message: 'smtp said no' },
        });
        assert.deepEqual(ready.body.info, { queue: { status: 'up', backend: 'in-process' } });
        assert.deepEqual(Object.keys(ready.body.details).sort(), ['database', 'mail', 'queue']);
        assert.equal((await get(`${url}/health/live`)).status, 200, 'a dependency outage never fails liveness');
      });
    });

    it('gives up on a hanging check after about 2 s with 503', () => {
      const checks = { stuck: () => new Promise<never>(() => {}), database: up() };
      return withApp(adapter, { providers: [checksProvider(checks)] }, async ({ url }) => {
        const [ready, live] = await Promise.all([get(`${url}/health/ready`), get(`${url}/health/live`)]);
        assert.equal(live.status, 200);
        assert.ok(live.ms < 1000, `liveness does not wait for readiness checks (${live.ms} ms)`);
        assert.equal(ready.status, 503);
        assert.ok(ready.ms >= 1900 && ready.ms < 3500, `answered after ${Math.round(ready.ms)} ms`);
        assert.deepEqual(ready.body.error, { stuck: { status: 'down', message: 'no answer within 2000 ms' } });
        assert.deepEqual(ready.body.info, { database: { status: 'up' } });
      });
    });

    it('answers 503 with lifecycle down once markShuttingDown() is called; liveness stays 200', () =>
      withApp(adapter, { providers: [checksProvider({ database: up() })] }, async ({ url, app }) => {
        assert.equal((await get(`${url}/health/ready`)).status, 200);
        const health = app.get(HealthRegistry);
        assert.equal(health.isShuttingDown, false);
        health.markShuttingDown();
        assert.equal(health.isShuttingDown, true);

        const ready = await get(`${url}/health/ready`);
        assert.equal(ready.status, 503);
        assert.deepEqual(ready.body.error, { lifecycle: { status: 'down', state: 'shutting_down' } });
        assert.deepEqual(ready.body.info, { database: { status: 'up' } });
        const live = await get(`${url}/health/live`);
        assert.equal(live.status, 200);
        assert.equal(live.body.status, 'ok');
      }));

    it('follows a dependency that goes down and comes back', () => {
      let healthy = true;
      const checks = {
        database: async () => {
          if (!healthy) throw new Error('down for maintenance');
          return { healthy };
        },
      };
      return withApp(adapter, { providers: [checksProvider(checks)] }, async ({ url }) => {
        assert.equal((await get(`${url}/health/ready`)).status, 200);
        healthy = false;
        const down = await get(`${url}/health/ready`);
        assert.equal(down.status, 503);
        assert.deepEqual(down.body.error, { database: { status: 'down', message: 'down for maintenance' } });
        healthy = true;
        await waitFor('readiness to recover', async () => ((await get(`${url}/health/ready`)).status === 200 ? true : undefined));
      });
    });
  });
}
