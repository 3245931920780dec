import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ADAPTERS, startApi } from './support/api.js';

/**
 * Closing the API while Redis accepts connections but never answers (a half-dead Redis, a network
 * partition mid-handshake): the Socket.IO adapter's subscriptions and the worker's commands sit in
 * ioredis' offline queue, and closing the clients rejects them with "Connection is closed.". Those
 * rejections must be handled: an unhandled one ends a Node process (and failed this suite at random,
 * whenever a test closed the API while a client was mid-connect).
 */
describe('closing the API while Redis never answers', () => {
  let server: Server;
  let url: string;
  const sockets = new Set<Socket>();
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => unhandled.push(reason);

  before(async () => {
    // Accepts every connection and never writes a byte: ioredis stays in "connect", commands queued.
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address && typeof address === 'object');
    url = `redis://127.0.0.1:${address.port}`;
    process.on('unhandledRejection', record);
  });
  after(async () => {
    process.off('unhandledRejection', record);
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  for (const adapter of ADAPTERS) {
    it(`leaves no rejection unhandled (${adapter})`, async () => {
      const api = await startApi('embedded', adapter, { REDIS_URL: url, RATE_LIMIT_WRITES: '0' });
      assert.ok(sockets.size > 0, 'the clients reached the silent Redis');
      await api.close();
      // Unhandled rejections are reported after the microtask queue drains.
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(
        unhandled.map((reason) => (reason instanceof Error ? reason.message : String(reason))),
        [],
      );
    });
  }
});
