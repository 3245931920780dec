import { Inject, Logger, Optional } from '@nestjs/common';
import { type OnGatewayInit, WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import { AppMetrics, instrumentSocketIoNamespace } from '@obsnest/observability';
import type { Server } from 'socket.io';
import type { User } from '../users/user.schemas.js';

export const USER_CREATED_EVENT = 'user.created';
export const SOCKET_IO_PATH = '/socket.io';
/**
 * Largest packet a client may send (engine.io's default is 1 MB). Clients here only listen: their
 * packets are a namespace join and the odd small event, so a larger frame is abuse and closes the
 * connection, and a flood of connections cannot each pin a megabyte of buffer.
 */
export const SOCKET_IO_MAX_PACKET_BYTES = 16 * 1024;
/** An engine.io connection that has not joined a namespace by then is dropped (default 45 s). */
const JOIN_TIMEOUT_MS = 10_000;

/**
 * Socket.IO gateway on the default namespace and path (/socket.io). Clients only listen; what
 * they send is counted, then ignored.
 */
@WebSocketGateway({
  serveClient: false,
  path: SOCKET_IO_PATH,
  maxHttpBufferSize: SOCKET_IO_MAX_PACKET_BYTES,
  connectTimeout: JOIN_TIMEOUT_MS,
})
export class UserEvents implements OnGatewayInit {
  private readonly logger = new Logger('UserEvents');
  @WebSocketServer() private server: Server | undefined;

  constructor(@Optional() @Inject(AppMetrics) private readonly metrics?: AppMetrics) {}

  afterInit(server: Server): void {
    instrumentSocketIoNamespace(server.of('/'), this.metrics);
    this.logger.log('Socket.IO gateway ready');
  }

  userCreated(user: User): void {
    this.server?.emit(USER_CREATED_EVENT, user);
  }
}
