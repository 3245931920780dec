import type { AppMetrics } from './metrics.js';

/** The parts of a Socket.IO namespace this needs; typed structurally so socket.io stays optional. */
export interface SocketIoNamespaceLike {
  readonly name: string;
  on(event: 'connection', listener: (socket: SocketIoSocketLike) => void): unknown;
}

export interface SocketIoSocketLike {
  use(middleware: (packet: unknown[], next: (err?: Error) => void) => void): unknown;
  once(event: 'disconnect', listener: () => void): unknown;
}

/**
 * Counts connections and received packets of one namespace. Pass a namespace your code defines
 * (its name becomes a label value); never instrument dynamic, client-chosen namespaces.
 */
export function instrumentSocketIoNamespace(namespace: SocketIoNamespaceLike, metrics: AppMetrics | null | undefined): void {
  if (!metrics) return;
  const name = namespace.name;
  metrics.declareWebsocketNamespace(name);
  namespace.on('connection', (socket) => {
    metrics.websocketConnected(name);
    socket.once('disconnect', () => metrics.websocketDisconnected(name));
    socket.use((_packet, next) => {
      metrics.websocketMessageReceived(name);
      next();
    });
  });
}
