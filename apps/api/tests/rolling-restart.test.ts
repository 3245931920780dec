import assert from 'node:assert/strict';
import { get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { type Adapter, isolatedEnv, type SpawnedApi, spawnApi, waitUntilListening } from './support/api.js';
import { freePort, waitFor } from './support/services.js';
import { type ReceivedMail, startSmtp } from './support/smtp.js';

const HEALTH_INTERVAL_MS = 100;

const refused = (error: unknown) => (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';

/**
 * One health check on a connection of its own, as kubelet probes and cloud load balancers make them.
 * A checker that polls over one kept-alive connection instead holds a stopping instance open: Node's
 * server.close() leaves a connection that was busy at that moment alive, and a poll every 100 ms never
 * lets it idle out.
 */
function ready(base: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(`${base}/health/ready`, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

interface Backend {
  readonly base: string;
  healthy: boolean;
}

/**
 * What a load balancer in front of the instances does, reduced to its rules:
 * - it sends a request only to instances whose last `/health/ready` answered 200 (checked every
 *   HEALTH_INTERVAL_MS, one failed check takes an instance out, one good check puts it back);
 * - round robin among those;
 * - a connection refused (the request never reached an application) is retried once on the other
 *   instance; nothing else is retried, since a request that reached an instance may have done its work.
 * A request fails when it gets a non-2xx status, any other network error (a reset or a dropped
 * connection after it was sent), a refusal on both instances, or when no instance is in rotation.
 */
class TinyLoadBalancer {
  readonly backends: Backend[];
  private next = 0;
  private checking = true;
  private readonly checker: Promise<void>;

  constructor(bases: string[]) {
    this.backends = bases.map((base) => ({ base, healthy: false }));
    this.checker = this.check();
  }

  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
    const inRotation = this.backends.filter((b) => b.healthy);
    if (inRotation.length === 0) throw new Error('no instance in rotation');
    const first = inRotation[this.next++ % inRotation.length];
    const order = [first, ...this.backends.filter((b) => b !== first)];
    const init: RequestInit = {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    };
    try {
      return await fetch(`${order[0].base}${path}`, init);
    } catch (error) {
      if (!refused(error)) throw error;
      order[0].healthy = false;
      return await fetch(`${order[1].base}${path}`, init);
    }
  }

  async stop(): Promise<void> {
    this.checking = false;
    await this.checker;
  }

  private async check(): Promise<void> {
    while (this.checking) {
      await Promise.all(
        this.backends.map(async (b) => {
          b.healthy = await ready(b.base);
        }),
      );
      await sleep(HEALTH_INTERVAL_MS);
    }
  }
}

interface Outcome {
  readonly what: string;
  readonly failure?: string;
}

describe('rolling restart', () => {
  it('two instances restarted one after the other under load: no failed request, one welcome email per user', async () => {
    const smtp = await startSmtp();
    const ports = [await freePort(), await freePort()];
    // One PostgreSQL database and one queue prefix, shared, as two instances of one deployment.
    const { env, cleanup } = await isolatedEnv('real', 'express', {
      SMTP_URL: smtp.url,
      LOG_LEVEL: 'info',
      SHUTDOWN_DRAIN_MS: String(HEALTH_INTERVAL_MS * 10),
      OUTBOX_POLL_MS: '200',
      RATE_LIMIT_WRITES: '0',
    });
    const adapters: Adapter[] = ['express', 'fastify'];
    const start = (i: number) => spawnApi({ ...env, PORT: String(ports[i]), HTTP_ADAPTER: adapters[i] });
    const running: SpawnedApi[] = [];
    const lb = new TinyLoadBalancer(ports.map((p) => `http://127.0.0.1:${p}`));
    const outcomes: Outcome[] = [];
    const created: string[] = [];
    let loading = true;
    let seq = 0;

    const client = async () => {
      while (loading) {
        const email = `rolling-${seq++}@example.com`;
        let id: string;
        try {
          const res = await lb.request('POST', '/users', { email, name: 'Rolling' });
          const text = await res.text();
          if (res.status !== 201) {
            outcomes.push({ what: `POST ${email}`, failure: `${res.status} ${text}` });
            continue;
          }
          created.push(email);
          outcomes.push({ what: `POST ${email}` });
          id = (JSON.parse(text) as { id: string }).id;
        } catch (error) {
          outcomes.push({ what: `POST ${email}`, failure: String((error as Error).cause ?? error) });
          continue;
        }
        try {
          // Likely on the other instance: it reads what this one committed.
          const res = await lb.request('GET', `/users/${id}`);
          await res.arrayBuffer();
          outcomes.push({ what: `GET ${id}`, failure: res.status === 200 ? undefined : String(res.status) });
        } catch (error) {
          outcomes.push({ what: `GET ${id}`, failure: String((error as Error).cause ?? error) });
        }
      }
    };

    const restart = async (i: number) => {
      const old = running[i];
      old.child.kill('SIGTERM');
      await waitFor('the balancer to take the instance out', () => !lb.backends[i].healthy || undefined);
      assert.equal(await old.exited, 0, old.output().slice(-2000));
      const fresh = start(i);
      running[i] = fresh;
      await waitUntilListening(fresh);
      await waitFor('the balancer to put the instance back', () => lb.backends[i].healthy || undefined);
    };

    try {
      running.push(start(0), start(1));
      await Promise.all(running.map((api) => waitUntilListening(api)));
      await waitFor('both instances in rotation', () => lb.backends.every((b) => b.healthy) || undefined);

      const clients = Array.from({ length: 4 }, client);
      await sleep(1000);
      await restart(0);
      await sleep(500);
      const beforeSecond = outcomes.length;
      await restart(1);
      await sleep(500);
      loading = false;
      await Promise.all(clients);

      const failures = outcomes.filter((o) => o.failure);
      assert.deepEqual(failures, [], `${failures.length} of ${outcomes.length} requests failed`);
      assert.ok(beforeSecond > 20 && outcomes.length - beforeSecond > 20, `steady load throughout (${outcomes.length} requests)`);

      await waitFor('a welcome email for every user', () => smtp.received.length >= created.length || undefined, 30_000);
      // Room for a late duplicate to show up before counting.
      await sleep(1000);
      const counts = new Map<string, number>();
      for (const mail of smtp.received as ReceivedMail[]) for (const to of mail.to) counts.set(to, (counts.get(to) ?? 0) + 1);
      assert.deepEqual([...counts.keys()].sort(), [...created].sort(), 'every created user, and only those, got an email');
      const twice = [...counts].filter(([, n]) => n > 1);
      assert.deepEqual(twice, [], 'no user got two');
    } finally {
      loading = false;
      await lb.stop();
      for (const api of running) api.child.kill('SIGTERM');
      await Promise.all(running.map((api) => api.exited));
      await smtp.close();
      await cleanup();
    }
  });
});
