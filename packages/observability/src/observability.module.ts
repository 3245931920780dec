import { type DynamicModule, Global, Inject, Logger, Module, type OnModuleInit, type Provider } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ClusterMetricsLink } from './cluster-link.js';
import { DEFAULT_EXCLUDED_PATHS } from './contract.js';
import { ObservabilityEndpoints } from './endpoints.js';
import { HealthRegistry } from './health.js';
import { type HttpInstrumentationOptions, installOnExpress, installOnFastify } from './http-instrumentation.js';
import { ManagementServer } from './management-server.js';
import { AppMetrics } from './metrics.js';
import { ObservabilityController } from './observability.controller.js';
import {
  ConfigurableObservabilityModule,
  OBSERVABILITY_OPTIONS,
  type ObservabilityAsyncOptions,
  type ObservabilityOptions,
} from './options.js';

const HTTP_INSTRUMENTATION = Symbol('HTTP_INSTRUMENTATION');

/** What the module did to the request path; `attach` finishes it once the HTTP server exists. */
interface HttpInstrumentation {
  readonly instrumented: boolean;
  attach?(): void;
}

/**
 * Hooks the request path as the module is instantiated. Nest does that inside `NestFactory.create`,
 * before the body parser and the routes are registered, so the hook sees every request first,
 * including those rejected by the body parser and those that match no route.
 */
function installHttpInstrumentation(
  options: ObservabilityOptions,
  host: HttpAdapterHost,
  metrics: AppMetrics | null | undefined,
): HttpInstrumentation {
  const adapter = host.httpAdapter;
  if (!adapter) {
    new Logger('ObservabilityModule').warn('no HTTP adapter when the module was created: HTTP requests are not instrumented');
    return { instrumented: false };
  }
  const settings: HttpInstrumentationOptions = {
    excludeRoutes: options.excludeRoutes ?? DEFAULT_EXCLUDED_PATHS,
    metrics: metrics ?? undefined,
    // Node lower-cases incoming header names: `X-Request-Id` must still find the incoming id.
    requestIdHeader: (options.requestIdHeader ?? 'x-request-id').toLowerCase(),
    onFinished: options.onRequestFinished,
  };
  const type = adapter.getType();
  if (type === 'express') {
    const attach = installOnExpress(adapter.getInstance(), settings);
    // Express' server is created by Nest after the modules and before their init hooks.
    return { instrumented: true, attach: () => attach(adapter.getHttpServer()) };
  }
  if (type === 'fastify') {
    installOnFastify(adapter.getInstance(), settings);
    return { instrumented: true };
  }
  throw new Error(`unsupported HTTP adapter "${type}": expected express or fastify`);
}

const metricsFrom = (options: ObservabilityOptions) => (options.metricsEnabled ? new AppMetrics(options) : null);

const commonProviders: Provider[] = [
  HealthRegistry,
  ClusterMetricsLink,
  ObservabilityEndpoints,
  ManagementServer,
  {
    provide: HTTP_INSTRUMENTATION,
    inject: [OBSERVABILITY_OPTIONS, HttpAdapterHost, { token: AppMetrics, optional: true }],
    useFactory: (options: ObservabilityOptions, host: HttpAdapterHost, metrics?: AppMetrics | null): HttpInstrumentation =>
      installHttpInstrumentation(options, host, metrics),
  },
];

@Global()
@Module({})
export class ObservabilityModule extends ConfigurableObservabilityModule implements OnModuleInit {
  constructor(@Inject(HTTP_INSTRUMENTATION) private readonly http: HttpInstrumentation) {
    super();
  }

  /** Before `listen`: the HTTP server exists, and no connection has been accepted yet. */
  onModuleInit(): void {
    this.http.attach?.();
  }

  /**
   * Options known when the module is declared. With `metricsEnabled: false` there is no `AppMetrics`
   * provider at all; with a `managementPort`, the application port has no `/metrics` route.
   */
  static override forRoot(options: ObservabilityOptions): DynamicModule {
    const base = ConfigurableObservabilityModule.forRoot(options);
    const providers = [...(base.providers ?? []), ...commonProviders];
    if (options.metricsEnabled) providers.push({ provide: AppMetrics, useFactory: () => new AppMetrics(options) });
    return {
      ...base,
      module: ObservabilityModule,
      imports: [...(base.imports ?? []), TerminusModule.forRoot({ logger: false })],
      controllers: options.managementPort === undefined ? [ObservabilityController] : [],
      providers,
      exports: options.metricsEnabled ? [AppMetrics, HealthRegistry] : [HealthRegistry],
    };
  }

  /**
   * Options from a factory (`useFactory` + `inject` + `imports`, or `useClass`/`useExisting`), e.g.
   * from `ConfigService`. Options are only known once the factory ran, so: `AppMetrics` is always
   * provided and is `null` when `metricsEnabled` is false (inject it with `@Optional()` and use
   * `metrics?.`), and the application port's `/metrics` answers 404 when a `managementPort` is set.
   */
  static override forRootAsync(options: ObservabilityAsyncOptions): DynamicModule {
    const base = ConfigurableObservabilityModule.forRootAsync(options);
    return {
      ...base,
      module: ObservabilityModule,
      imports: [...(base.imports ?? []), TerminusModule.forRoot({ logger: false })],
      controllers: [ObservabilityController],
      providers: [
        ...(base.providers ?? []),
        ...commonProviders,
        { provide: AppMetrics, inject: [OBSERVABILITY_OPTIONS], useFactory: metricsFrom },
      ],
      exports: [AppMetrics, HealthRegistry],
    };
  }
}
