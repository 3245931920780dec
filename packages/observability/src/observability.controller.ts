import { Controller, Get, Headers, Inject, NotFoundException, Res } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { type EndpointResponse, ObservabilityEndpoints } from './endpoints.js';
import { OBSERVABILITY_OPTIONS, type ObservabilityOptions } from './options.js';

/** Serves the endpoints on the application port (when no management port is configured). */
@Controller()
export class ObservabilityController {
  constructor(
    private readonly endpoints: ObservabilityEndpoints,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(OBSERVABILITY_OPTIONS) private readonly options: ObservabilityOptions,
  ) {}

  @Get('metrics')
  async metrics(
    @Headers('authorization') authorization: string | undefined,
    @Headers('accept') accept: string | undefined,
    @Res() res: unknown,
  ): Promise<void> {
    this.send(res, await this.endpoints.metricsText(authorization, accept));
  }

  @Get('health/live')
  async live(@Res() res: unknown): Promise<void> {
    this.send(res, await this.endpoints.live());
  }

  @Get('health/ready')
  async ready(@Res() res: unknown): Promise<void> {
    this.send(res, await this.endpoints.ready());
  }

  /** Through the adapter, so one controller answers on Express and Fastify alike. */
  private send(res: unknown, response: EndpointResponse): void {
    // Registered by forRootAsync before the options were known: with a management port the
    // application port answers as if the route did not exist.
    if (this.options.managementPort !== undefined) throw new NotFoundException();
    const adapter = this.adapterHost.httpAdapter;
    adapter.setHeader(res, 'content-type', response.contentType);
    adapter.setHeader(res, 'cache-control', 'no-store');
    for (const [name, value] of Object.entries(response.headers ?? {})) adapter.setHeader(res, name, value);
    adapter.reply(res, response.body, response.status);
  }
}
