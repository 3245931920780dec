import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody } from './errors.js';

/** Writes a complete JSON error response on a socket Node has handed over, then closes it. */
function answer(socket: Duplex, status: number, message: string): void {
  const requestId = randomUUID();
  const body = errorBody(status, message, requestId);
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${body.error}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      `X-Request-Id: ${requestId}\r\n` +
      'X-Content-Type-Options: nosniff\r\n' +
      'Connection: close\r\n\r\n' +
      text,
  );
}

/**
 * Requests Node hands to 'connect' and 'upgrade' listeners never reach Express or Fastify. Unanswered,
 * a CONNECT is dropped at once and an upgrade to any path but Socket.IO's is dropped by engine.io a
 * second later, both without a status. They get a JSON 405 or 404 here instead; engine.io leaves a
 * socket that has been written to alone. Neither is counted in the HTTP metrics: no route saw them.
 */
export function answerStrayRequests(server: Server, socketIoPath: string): void {
  const prefix = `${socketIoPath.replace(/\/$/, '')}/`;
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    // Once handed over, socket errors are ours to handle; unhandled, one would crash the process.
    socket.on('error', () => socket.destroy());
    answer(socket, 405, 'CONNECT is not supported');
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    if ((req.url ?? '').startsWith(prefix)) return;
    socket.on('error', () => socket.destroy());
    answer(socket, 404, `no upgrade is served here; Socket.IO is at ${prefix}`);
  });
}
