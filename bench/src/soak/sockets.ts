/**
 * Socket.IO churn: a fixed number of clients stay connected while the oldest is replaced by a new
 * one several times a second, each listening for `user.created`. A connection the server forgets
 * to release, or a listener left per socket, shows as growing heap and a websocket_connections
 * gauge that does not come back to zero at the end.
 */
import { io, type Socket } from 'socket.io-client';

const USER_CREATED = 'user.created';
/** Handshakes in progress at most before a replacement waits for the next tick. */
const MAX_PENDING = 5;

export interface SocketStats {
  connectAttempts: number;
  connected: number;
  connectErrors: number;
  /** Disconnects this side did not ask for (server closed, transport error…). */
  unexpectedDisconnects: number;
  /** `user.created` events received over every client. */
  events: number;
}

export class SocketChurn {
  private readonly open: Socket[] = [];
  private readonly pending = new Set<Socket>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  readonly stats: SocketStats = { connectAttempts: 0, connected: 0, connectErrors: 0, unexpectedDisconnects: 0, events: 0 };

  constructor(
    private readonly url: string,
    private readonly size: number,
    private readonly churnPerSecond: number,
  ) {}

  start(): void {
    for (let i = 0; i < this.size; i++) this.connectOne();
    this.timer = setInterval(() => this.replaceOldest(), 1000 / this.churnPerSecond);
  }

  get openCount(): number {
    return this.open.length;
  }

  /** Disconnects every client; resolves once the pending ones have settled too. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    for (const socket of this.open.splice(0)) socket.disconnect();
    const deadline = Date.now() + 10_000;
    while (this.pending.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    for (const socket of this.pending) socket.disconnect();
    this.pending.clear();
  }

  private replaceOldest(): void {
    // A slow server gets fewer replacements, not a pile-up of handshakes.
    if (this.pending.size >= MAX_PENDING) return;
    this.open.shift()?.disconnect();
    while (this.open.length + this.pending.size < this.size) this.connectOne();
  }

  private connectOne(): void {
    this.stats.connectAttempts++;
    const socket = io(this.url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 10_000 });
    this.pending.add(socket);
    socket.on(USER_CREATED, () => this.stats.events++);
    socket.once('connect', () => {
      this.pending.delete(socket);
      this.stats.connected++;
      if (this.stopping) socket.disconnect();
      else this.open.push(socket);
    });
    socket.once('connect_error', () => {
      this.pending.delete(socket);
      this.stats.connectErrors++;
      socket.close();
    });
    socket.on('disconnect', (reason) => {
      if (reason !== 'io client disconnect') {
        this.stats.unexpectedDisconnects++;
        const at = this.open.indexOf(socket);
        if (at >= 0) this.open.splice(at, 1);
      }
    });
  }
}
