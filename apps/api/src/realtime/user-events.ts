import { Inject, Logger, Optional } from '@nestjs/common';
import { type OnGatewayInit, WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import { AppMetrics, instrumentSocketIoNamespace } from '@obsnest/observability';
import type { Server } from 'socket.io';
import type { User } from '../users/user.schemas.js';

export const USER_CREATED_EVENT = 'user.created';

/**
 * Socket.IO gateway on the default namespace and path (/socket.io). Clients only listen; what
 * they send is counted, then ignored.
 */
@WebSocketGateway({ serveClient: false })
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
