import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { type EndpointResponse, ObservabilityEndpoints } from './endpoints.js';
import { OBSERVABILITY_OPTIONS, type ObservabilityOptions } from './options.js';

/**
 * The management listener: `/metrics` and `/health/*` on their own port, so the public port
 * never serves them and a firewall or NetworkPolicy can keep the management port internal.
 * Plain node:http on purpose: three fixed routes need no framework, and it keeps answering the
 * same way whichever adapter the application uses.
 */
@Injectable()
export class ManagementServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private server: Server | undefined;
  private readonly logger = new Logger('ManagementServer');

  constructor(
    @Inject(OBSERVABILITY_OPTIONS) private readonly options: ObservabilityOptions,
    private readonly endpoints: ObservabilityEndpoints,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const port = this.options.managementPort;
    if (port === undefined) return;
    const host = this.options.managementHost ?? '127.0.0.1';
    const server = createServer((req, res) => {
      this.route(req.method, req.url, req.headers.authorization, req.headers.accept).then(
        (response) => {
          res.writeHead(response.status, { 'content-type': response.contentType, 'cache-control': 'no-store', ...response.headers });
          res.end(req.method === 'HEAD' ? undefined : response.body);
        },
        (error: unknown) => {
          this.logger.error(`management endpoint failed: ${error instanceof Error ? error.message : String(error)}`);
          res.writeHead(500, { 'content-type': 'application/json' }).end('{"statusCode":500,"message":"internal error"}');
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    this.logger.log(`management endpoints on http://${host}:${this.address?.port}`);
  }

  get address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  private route(
    method: string | undefined,
    url: string | undefined,
    authorization: string | undefined,
    accept: string | undefined,
  ): Promise<EndpointResponse> {
    const path = (url ?? '/').split('?')[0];
    if (method !== 'GET' && method !== 'HEAD') return Promise.resolve(notFound(405, 'method not allowed'));
    switch (path) {
      case '/metrics':
        return this.endpoints.metricsText(authorization, accept);
      case '/health/live':
        return this.endpoints.live();
      case '/health/ready':
        return this.endpoints.ready();
      default:
        return Promise.resolve(notFound(404, 'not found'));
    }
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function notFound(status: number, message: string): EndpointResponse {
  return { status, contentType: 'application/json', body: JSON.stringify({ statusCode: status, message }) };
}
