import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { responseClassSlot } from '../../src/http-instrumentation.js';
import { ObservabilityModule, type ObservabilityOptions } from '../../src/index.js';

/**
 * `fastify-listener` and `express-listener` run on a server whose response class the library cannot
 * extend, so they track requests with their fallbacks: a `request` listener (installOnFastify), the
 * `app.handle` wrapper with a `close` listener (installOnExpress).
 */
export type Adapter = 'express' | 'fastify' | 'fastify-listener' | 'express-listener';
export const ADAPTERS: readonly Adapter[] = ['express', 'fastify'];

export interface TestApp {
  readonly adapter: Adapter;
  readonly app: INestApplication;
  /** http://127.0.0.1:<port> of the application port. */
  readonly url: string;
  close(): Promise<void>;
}

export interface StartOptions extends Partial<ModuleMetadata> {
  /** Options of `ObservabilityModule.forRoot`; defaults: metrics on, appVersion 'test', no default Node metrics. */
  observability?: Partial<ObservabilityOptions>;
  /** Runs after `NestFactory.create`, before `listen` (global filters, WebSocket adapter…). */
  configure?: (app: INestApplication) => unknown;
  /** Nest's own body parser (NestApplicationOptions.bodyParser). Default true. */
  bodyParser?: boolean;
}

/**
 * A throwaway Nest application on a free loopback port with `ObservabilityModule.forRoot` and the
 * given controllers/providers/imports. Always `close()` it (in `after` or `finally`).
 */
export async function startApp(adapter: Adapter, options: StartOptions = {}): Promise<TestApp> {
  const observability: ObservabilityOptions = {
    metricsEnabled: true,
    appVersion: 'test',
    defaultMetrics: false,
    ...options.observability,
  };

  @Module({
    imports: [ObservabilityModule.forRoot(observability), ...(options.imports ?? [])],
    controllers: options.controllers ?? [],
    providers: options.providers ?? [],
  })
  class TestModule {}

  const httpAdapter = adapter.startsWith('express') ? new ExpressAdapter() : new FastifyAdapter();
  if (adapter === 'fastify-listener') hideResponseClass(httpAdapter.getInstance().server);
  const app = await NestFactory.create(TestModule, httpAdapter, {
    logger: false,
    abortOnError: false,
    bodyParser: options.bodyParser ?? true,
  });
  // Express' server exists once Nest created the application; the module attaches at init.
  if (adapter === 'express-listener') hideResponseClass(app.getHttpServer());
  try {
    await options.configure?.(app);
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  let closed: Promise<void> | undefined;
  return {
    adapter,
    app,
    url,
    close: () => {
      closed ??= app.close();
      return closed;
    },
  };
}

/** Node still builds its responses, through a factory that is not a ServerResponse subclass. */
function hideResponseClass(server: Server): void {
  const slots = server as unknown as Record<symbol, unknown>;
  const key = responseClassSlot(server);
  if (key === undefined) throw new Error('this Node has no response class slot on its HTTP server');
  const Response = slots[key] as new (req: IncomingMessage, options?: object) => ServerResponse;
  slots[key] = function response(req: IncomingMessage, options?: object) {
    return new Response(req, options);
  };
}

/** Starts an app, runs `body` with it and closes it whatever happens. */
export async function withApp<T>(adapter: Adapter, options: StartOptions, body: (app: TestApp) => Promise<T>): Promise<T> {
  const app = await startApp(adapter, options);
  try {
    return await body(app);
  } finally {
    await app.close();
  }
}
