/**
 * One bench server: a small Nest app serving the same trivial controller (`GET /bench/:id`) with
 * one instrumentation stack. Started by the harness as its own process:
 *   BENCH_ADAPTER=express|fastify BENCH_STACK=<Stack> PORT=<port> node bench/dist/src/servers/server.js
 * The OpenTelemetry variant starts through otel-server.js, which loads the SDK before this file.
 */
import { onCommand } from './probe.js';
import {
  type CallHandler,
  Controller,
  type DynamicModule,
  type ExecutionContext,
  Get,
  Inject,
  Injectable,
  type INestApplication,
  Module,
  type NestInterceptor,
  Param,
  type Provider,
  type Type,
} from '@nestjs/common';
import { APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AppMetrics } from '@obsnest/observability';
import type { Counter, Histogram } from 'prom-client';
import { type Observable, tap } from 'rxjs';
import type { Adapter, Stack } from '../variants.js';

// Every stack is imported only by the process that runs it, so memory figures compare like with like.

/** The route every variant serves: parameterised, no I/O, a small JSON body. */
@Controller('bench')
export class BenchController {
  @Get(':id')
  get(@Param('id') id: string): { id: string; ok: boolean } {
    return { id, ok: true };
  }
}

/** Same buckets as our contract, so the peers do the same histogram work. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface HttpRequestLike {
  method: string;
  route?: { path?: string };
  routeOptions?: { url?: string };
}

/**
 * The interceptor people write next to @willsoto/nestjs-prometheus (its README leaves HTTP
 * metrics to the user): a timer per request, labels from the matched route, recorded in `tap`.
 */
@Injectable()
class HttpMetricsInterceptor implements NestInterceptor {
  constructor(
    // What @InjectMetric('http_requests_total') expands to (its token is PROM_METRIC_<NAME>).
    @Inject('PROM_METRIC_HTTP_REQUESTS_TOTAL') private readonly requests: Counter<string>,
    @Inject('PROM_METRIC_HTTP_REQUEST_DURATION_SECONDS') private readonly duration: Histogram<string>,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const req = http.getRequest<HttpRequestLike>();
    const res = http.getResponse<{ statusCode: number }>();
    const end = this.duration.startTimer();
    const route = req.route?.path ?? req.routeOptions?.url ?? 'unknown';
    const record = (status: number) => {
      const labels = { method: req.method, route, status_code: String(status) };
      this.requests.inc(labels);
      end(labels);
    };
    return next.handle().pipe(
      tap({
        next: () => record(res.statusCode),
        error: (error: { status?: number }) => record(error?.status ?? 500),
      }),
    );
  }
}

async function rootModule(stack: Stack): Promise<Type<unknown>> {
  const imports: DynamicModule[] = [];
  const providers: Provider[] = [];
  if (stack === 'ours-on' || stack === 'ours-off' || stack === 'ours-prom-client') {
    const { ObservabilityModule } = await import('@obsnest/observability');
    imports.push(ObservabilityModule.forRoot({ metricsEnabled: stack !== 'ours-off', appVersion: 'bench' }));
  }
  if (stack === 'willsoto') {
    const { makeCounterProvider, makeHistogramProvider, PrometheusModule, getToken } = await import('@willsoto/nestjs-prometheus');
    if (getToken('http_requests_total') !== 'PROM_METRIC_HTTP_REQUESTS_TOTAL') throw new Error('unexpected @willsoto metric token');
    imports.push(PrometheusModule.register());
    const labelNames = ['method', 'route', 'status_code'];
    providers.push(
      makeCounterProvider({ name: 'http_requests_total', help: 'HTTP requests', labelNames }),
      makeHistogramProvider({ name: 'http_request_duration_seconds', help: 'HTTP request duration', labelNames, buckets: BUCKETS }),
      { provide: APP_INTERCEPTOR, useClass: HttpMetricsInterceptor },
    );
  }
  @Module({ imports, controllers: [BenchController], providers })
  class BenchModule {}
  return BenchModule;
}

async function create(adapter: Adapter, stack: Stack): Promise<INestApplication> {
  const options = { logger: false as const, abortOnError: false };
  const module = await rootModule(stack);
  if (adapter === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    const app = await NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter(), options);
    if (stack === 'fastify-metrics') {
      const imported = await import('fastify-metrics');
      // CommonJS module with `exports.default`: Node's default import is the exports object.
      const plugin = imported.default.default;
      await app.register(plugin, { endpoint: '/metrics' });
    }
    return app;
  }
  const { ExpressAdapter } = await import('@nestjs/platform-express');
  const app = await NestFactory.create<NestExpressApplication>(module, new ExpressAdapter(), options);
  if (stack === 'express-prom-bundle') {
    const { default: promBundle } = await import('express-prom-bundle');
    app.use(promBundle({ includeMethod: true, includePath: true, buckets: BUCKETS, promClient: { collectDefaultMetrics: {} } }));
  }
  return app;
}

/** Before the hot-path fix: the same hook, HTTP recording through prom-client (bench/src/hotpath). */
async function installPromClient(app: INestApplication): Promise<void> {
  const { AppMetrics } = await import('@obsnest/observability');
  const { installPromClientRecording } = await import('../hotpath/prom-client-recording.js');
  installPromClientRecording(app.get(AppMetrics, { strict: false }));
}

/** Adds synthetic route series until the registry holds about `series` samples (scrape-cost section). */
async function installPopulate(app: INestApplication): Promise<void> {
  const { AppMetrics } = await import('@obsnest/observability');
  const metrics: AppMetrics = app.get(AppMetrics, { strict: false });
  const count = async () => (await metrics.render()).split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  onCommand('populate', async (args) => {
    const target = (args as { series: number }).series;
    let series = await count();
    // One (method, route, status) combination adds 15 samples: 12 buckets, _sum, _count, and the counter.
    let i = 0;
    while (series < target) {
      const combos = Math.max(1, Math.ceil((target - series) / 15));
      for (let n = 0; n < combos; n++, i++) metrics.observeHttpRequest('GET', `/synthetic/route-${series}-${i}/:id`, 200, 0.003);
      series = await count();
    }
    return { series };
  });
  onCommand('render', async (args) => {
    const repeat = (args as { repeat?: number } | undefined)?.repeat ?? 5;
    const times: number[] = [];
    let bytes = 0;
    let series = 0;
    for (let r = 0; r < repeat; r++) {
      const start = performance.now();
      const text = await metrics.render();
      times.push(performance.now() - start);
      bytes = Buffer.byteLength(text);
      series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
    }
    return { times, bytes, series };
  });
}

async function main(): Promise<void> {
  const adapter = (process.env.BENCH_ADAPTER ?? 'express') as Adapter;
  const stack = (process.env.BENCH_STACK ?? 'bare') as Stack;
  const port = Number(process.env.PORT ?? 0);
  const app = await create(adapter, stack);
  if (stack === 'ours-prom-client') await installPromClient(app);
  if (stack === 'ours-on' || stack === 'ours-prom-client') await installPopulate(app);
  await app.listen(port, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  process.send?.({ ready: true, port: address.port });
  const stop = () => {
    app.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench server failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
