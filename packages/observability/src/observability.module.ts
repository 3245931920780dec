import { type DynamicModule, Global, Inject, Logger, Module, type Provider } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { DEFAULT_EXCLUDED_PATHS } from './contract.js';
import { ObservabilityEndpoints } from './endpoints.js';
import { HealthRegistry } from './health.js';
import { type HttpInstrumentationOptions, installOnExpress, installOnFastify } from './http-instrumentation.js';
import { ManagementServer } from './management-server.js';
import { AppMetrics } from './metrics.js';
import { ObservabilityController } from './observability.controller.js';
import { OBSERVABILITY_OPTIONS, type ObservabilityOptions } from './options.js';

const HTTP_INSTRUMENTATION = Symbol('HTTP_INSTRUMENTATION');

/**
 * Hooks the request path as the module is instantiated. Nest does that inside `NestFactory.create`,
 * before the body parser and the routes are registered, so the hook sees every request first,
 * including those rejected by the body parser and those that match no route.
 */
function installHttpInstrumentation(options: ObservabilityOptions, host: HttpAdapterHost, metrics: AppMetrics | undefined) {
  const adapter = host.httpAdapter;
  if (!adapter) {
    new Logger('ObservabilityModule').warn('no HTTP adapter when the module was created: HTTP requests are not instrumented');
    return false;
  }
  const settings: HttpInstrumentationOptions = {
    excludeRoutes: options.excludeRoutes ?? DEFAULT_EXCLUDED_PATHS,
    metrics,
    // Node lower-cases incoming header names: `X-Request-Id` must still find the incoming id.
    requestIdHeader: (options.requestIdHeader ?? 'x-request-id').toLowerCase(),
    onFinished: options.onRequestFinished,
  };
  const type = adapter.getType();
  if (type === 'express') installOnExpress(adapter.getInstance(), settings);
  else if (type === 'fastify') installOnFastify(adapter.getInstance(), settings);
  else throw new Error(`unsupported HTTP adapter "${type}": expected express or fastify`);
  return true;
}

@Global()
@Module({})
export class ObservabilityModule {
  constructor(@Inject(HTTP_INSTRUMENTATION) readonly httpInstrumented: boolean) {}

  static forRoot(options: ObservabilityOptions): DynamicModule {
    const providers: Provider[] = [
      { provide: OBSERVABILITY_OPTIONS, useValue: options },
      HealthRegistry,
      ObservabilityEndpoints,
      ManagementServer,
      {
        provide: HTTP_INSTRUMENTATION,
        inject: [HttpAdapterHost, { token: AppMetrics, optional: true }],
        useFactory: (host: HttpAdapterHost, metrics?: AppMetrics) => installHttpInstrumentation(options, host, metrics),
      },
    ];
    if (options.metricsEnabled) {
      providers.push({
        provide: AppMetrics,
        useFactory: () => new AppMetrics({ appVersion: options.appVersion, defaultMetrics: options.defaultMetrics }),
      });
    }
    return {
      module: ObservabilityModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: options.managementPort === undefined ? [ObservabilityController] : [],
      providers,
      exports: options.metricsEnabled ? [AppMetrics, HealthRegistry] : [HealthRegistry],
    };
  }
}
