import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR } from '@nestjs/core';
import { type MetricContract, ObservabilityModule } from '@obsnest/observability';
import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { ErrorFilter } from './http/errors.js';
import { writeRateLimit } from './http/rate-limit.js';
import { InfrastructureModule } from './infrastructure.module.js';
import { accessLogger } from './logging/logger.js';
import { API_METRICS } from './metrics.js';
import { OpenApiModule } from './openapi/openapi.module.js';
import { UserEvents } from './realtime/user-events.js';
import { activeTraceId } from './tracing/spans.js';
import { tracingEnabled } from './tracing/start-tracing.js';
import { TracingInterceptor } from './tracing/tracing.interceptor.js';
import { UsersController } from './users/users.controller.js';
import { UsersRepository } from './users/users.repository.js';
import { UsersService } from './users/users.service.js';
import { APP_VERSION } from './version.js';

@Module({})
export class AppModule {
  /** `extraMetrics`: contracts served next to the library's and `API_METRICS` (an embedding app's, a test's). */
  static forRoot(config: Config, logger: Logger, extraMetrics: readonly MetricContract[] = []): DynamicModule {
    const rateLimit = writeRateLimit(config);
    const tracing = tracingEnabled(config);
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot({
          metricsEnabled: config.METRICS_ENABLED,
          appVersion: APP_VERSION,
          metrics: [API_METRICS, ...extraMetrics],
          metricsToken: config.METRICS_TOKEN,
          managementPort: config.MANAGEMENT_PORT,
          managementHost: config.MANAGEMENT_HOST,
          // Each worker's /metrics asks the primary for every worker's, aggregated (src/cluster/primary.ts).
          clusterMetrics: config.API_WORKERS > 1,
          onRequestFinished: accessLogger(logger.child({ component: 'http' })),
          // Off, undefined: the request path does not even look for a span.
          exemplarTraceId: tracing ? activeTraceId : undefined,
        }),
        InfrastructureModule.forRoot(config, logger),
        OpenApiModule.forRoot(config),
        ...rateLimit.imports,
      ],
      controllers: [UsersController],
      providers: [
        UsersRepository,
        UsersService,
        UserEvents,
        { provide: APP_FILTER, useClass: ErrorFilter },
        ...rateLimit.providers,
        ...(tracing ? [{ provide: APP_INTERCEPTOR, useClass: TracingInterceptor }] : []),
      ],
    };
  }
}
