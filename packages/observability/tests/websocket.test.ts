import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Optional } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { type OnGatewayInit, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Server } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { AppMetrics, instrumentSocketIoNamespace } from '../src/index.js';
import { ADAPTERS, withApp } from './support/app.js';
import { type Exposition, scrape, select, sampleValue, waitFor } from './support/metrics.js';

@WebSocketGateway({ serveClient: false })
class EchoGateway implements OnGatewayInit {
  constructor(@Optional() private readonly metrics?: AppMetrics) {}

  afterInit(server: Server): void {
    instrumentSocketIoNamespace(server.of('/'), this.metrics);
  }

  @SubscribeMessage('ping')
  ping(): string {
    return 'pong';
  }
}

function connect(url: string): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.disconnect();
      reject(error);
    });
  });
}

function ws(e: Exposition) {
  const ns = { namespace: '/' };
  return {
    open: sampleValue(e, 'websocket_connections', ns),
    opened: sampleValue(e, 'websocket_connections_opened_total', ns),
    received: sampleValue(e, 'websocket_messages_received_total', ns),
  };
}

for (const adapter of ADAPTERS) {
  describe(`Socket.IO instrumentation (${adapter})`, () => {
    it('counts open connections, connections opened and messages received per namespace', () => {
      const clients: Socket[] = [];
      return withApp(
        adapter,
        { providers: [EchoGateway], configure: (app) => app.useWebSocketAdapter(new IoAdapter(app)) },
        async ({ url }) => {
          try {
            // Declared at 0 before the first client, so rate() and alerts see the series from the start.
            assert.deepEqual(ws(await scrape(url)), { open: 0, opened: 0, received: 0 });

            for (let i = 0; i < 5; i++) clients.push(await connect(url));
            const acks = await Promise.all(
              clients.map(async (socket, i) => {
                const answers = [
                  await socket.timeout(2000).emitWithAck('ping', { from: i }),
                  await socket.timeout(2000).emitWithAck('ping', { from: i }),
                ];
                socket.emit('no-handler', i); // counted too: every event packet a client sends
                return answers;
              }),
            );
            assert.deepEqual(
              acks,
              Array.from({ length: 5 }, () => ['pong', 'pong']),
            );

            await waitFor('5 open connections and 15 messages', async () => {
              assert.deepEqual(ws(await scrape(url)), { open: 5, opened: 5, received: 15 });
              return true;
            });

            for (const socket of clients.slice(0, 2)) socket.disconnect();
            const settled = await waitFor('2 disconnections', async () => {
              const e = await scrape(url);
              assert.deepEqual(ws(e), { open: 3, opened: 5, received: 15 });
              return e;
            });
            // Only the one namespace the gateway instrumented, never a client-chosen label.
            assert.deepEqual(
              select(settled, 'websocket_connections').map((s) => s.labels),
              [{ namespace: '/' }],
            );
            await new Promise((r) => setTimeout(r, 200));
            assert.deepEqual(ws(await scrape(url)), { open: 3, opened: 5, received: 15 }, 'stable');
          } finally {
            for (const socket of clients) socket.disconnect();
          }
        },
      );
    });
  });
}

describe('instrumentSocketIoNamespace', () => {
  it('does nothing without metrics (metricsEnabled: false)', () => {
    let listened = false;
    instrumentSocketIoNamespace(
      {
        name: '/',
        on: () => {
          listened = true;
        },
      },
      undefined,
    );
    assert.equal(listened, false);
  });
});
