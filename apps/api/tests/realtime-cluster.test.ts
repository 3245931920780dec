import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import { io, type Socket } from 'socket.io-client';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/logging/logger.js';
import { USER_CREATED_EVENT } from '../src/realtime/user-events.js';
import { ADAPTERS, isolatedEnv, postJson } from './support/api.js';
import { waitFor } from './support/services.js';

async function listen(env: Record<string, string>): Promise<{ app: INestApplication; url: string }> {
  const config = loadConfig(env);
  const app = await createApp(config, createLogger(config.LOG_LEVEL));
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

function connect(url: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

for (const adapter of ADAPTERS) {
  describe(`Socket.IO across instances (${adapter}, Redis adapter)`, () => {
    it('a user created on one instance reaches the clients of every instance, once', async () => {
      // Two instances of one deployment: same database, same Redis, same prefix.
      const { env, cleanup } = await isolatedEnv('real', adapter, { RATE_LIMIT_WRITES: '0' });
      const a = await listen(env);
      const b = await listen(env);
      const sockets: Socket[] = [];
      try {
        const onA = await connect(a.url);
        const onB = await connect(b.url);
        sockets.push(onA, onB);
        const received = { a: [] as string[], b: [] as string[] };
        onA.on(USER_CREATED_EVENT, (user: { email: string }) => received.a.push(user.email));
        onB.on(USER_CREATED_EVENT, (user: { email: string }) => received.b.push(user.email));
        // The subscriber connects asynchronously; publish until B hears the first one.
        let n = 0;
        await waitFor(
          'instance B to relay an event from A',
          async () => {
            assert.equal((await postJson(`${a.url}/users`, { email: `warmup-${n++}@example.com`, name: 'W' })).status, 201);
            return received.b.length > 0 || undefined;
          },
          10_000,
        );
        for (const [i, url] of [a.url, b.url, a.url].entries()) {
          assert.equal((await postJson(`${url}/users`, { email: `cluster-${i}@example.com`, name: 'C' })).status, 201);
        }
        const expected = ['cluster-0@example.com', 'cluster-1@example.com', 'cluster-2@example.com'];
        // Warm-up events may still be in flight: only the cluster-* ones are judged.
        const judged = (emails: string[]) => emails.filter((e) => e.startsWith('cluster-')).sort();
        await waitFor(
          'every event on both instances',
          () => (judged(received.a).length >= 3 && judged(received.b).length >= 3) || undefined,
          5000,
        );
        await new Promise((r) => setTimeout(r, 200)); // a duplicate would arrive by now
        assert.deepEqual(judged(received.a), expected, 'clients of A: each event once');
        assert.deepEqual(judged(received.b), expected, 'clients of B: each event once');
      } finally {
        for (const s of sockets) s.disconnect();
        await a.app.close();
        await b.app.close();
        await cleanup();
      }
    });
  });
}
