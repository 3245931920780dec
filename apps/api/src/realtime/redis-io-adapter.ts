import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

// Typed through IoAdapter: @nestjs/platform-socket.io carries its own copy of socket.io's types.
type IoServer = ReturnType<IoAdapter['createIOServer']>;
type IoOptions = Parameters<IoAdapter['createIOServer']>[1];

/**
 * Socket.IO across API instances: with several replicas behind a load balancer, a user created on
 * one instance must reach the clients connected to the others. The official Redis adapter relays
 * every broadcast over Redis pub/sub (channel prefix `<QUEUE_PREFIX>:socket.io`).
 *
 * Realtime events are best effort: while Redis is down each instance still reaches its own clients,
 * and the adapter's publishes fail. It does not handle those rejections itself, and an unhandled
 * rejection ends a Node process, so `publish` and the (un)subscribe commands are wrapped to log them instead.
 */
export class RedisIoAdapter extends IoAdapter {
  private readonly clients: Redis[] = [];

  constructor(
    app: INestApplicationContext,
    private readonly redis: { url: string; prefix: string },
    private readonly log: Logger,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: IoOptions): IoServer {
    const server = super.createIOServer(port, options);
    const pub = new Redis(this.redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    const sub = new Redis(this.redis.url, { maxRetriesPerRequest: null });
    for (const client of [pub, sub]) {
      client.on('error', (error: Error) => this.log.debug({ err: error.message }, 'Socket.IO Redis connection error'));
      this.clients.push(client);
    }
    const publish = pub.publish.bind(pub) as (channel: string, message: string | Buffer) => Promise<number>;
    (pub as unknown as { publish: typeof publish }).publish = (channel, message) =>
      publish(channel, message).catch((error: Error) => {
        this.log.warn({ err: error.message }, 'Socket.IO event not relayed to the other instances');
        return 0;
      });
    // The adapter (un)subscribes without handling a rejection either: while Redis is unreachable the
    // commands wait in the offline queue, and closing the client rejects them ("Connection is closed.").
    for (const method of ['subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe'] as const) {
      const subscribe = sub[method].bind(sub) as (...channels: string[]) => Promise<unknown>;
      (sub as unknown as Record<typeof method, typeof subscribe>)[method] = (...channels) =>
        subscribe(...channels).catch((error: Error) => {
          this.log.debug({ err: error.message, channels }, 'Socket.IO Redis subscription change not made');
          return 0;
        });
    }
    server.adapter(createAdapter(pub, sub, { key: `${this.redis.prefix}:socket.io` }) as unknown as Parameters<IoServer['adapter']>[0]);
    return server;
  }

  override async close(server: IoServer): Promise<void> {
    await super.close(server);
    for (const client of this.clients.splice(0)) {
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    }
  }
}
