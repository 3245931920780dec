import { randomUUID } from 'node:crypto';
import fastifyHelmet from '@fastify/helmet';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { type MetricContract, requestIdOf } from '@obsnest/observability';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { AppModule } from './app.module.js';
import type { Config } from './config/config.js';
import { errorBody } from './http/errors.js';
import { answerStrayRequests } from './http/stray-requests.js';
import { PinoNestLogger } from './logging/logger.js';
import { RedisIoAdapter } from './realtime/redis-io-adapter.js';
import { SOCKET_IO_PATH } from './realtime/user-events.js';

/** helmet's defaults: the same headers @fastify/helmet sends, since it wraps the same package. */
const securityHeaders = helmet();

/**
 * Fastify's router rejects a URL it cannot decode (`/users/%zz`) before any hook or filter runs,
 * with a body of its own. This answers it in the stable error shape instead, with the request id
 * the HTTP instrumentation assigned (it tracks requests from the server's `request` event), or a
 * fresh one where it did not run.
 */
function answerRouterError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
  const requestId = requestIdOf(request) ?? randomUUID();
  const message = error.code === 'FST_ERR_BAD_URL' ? 'malformed percent-encoding in the URL' : 'the URL cannot be routed';
  // @fastify/helmet's hook did not run either; the same headers, set on the raw response.
  securityHeaders(request.raw, reply.raw, () => {
    void reply
      .code(status)
      .header('x-request-id', requestId)
      .send(errorBody(status, message, requestId));
  });
}

/**
 * Builds the application for either HTTP adapter. The adapter is the only thing chosen here;
 * everything above it (routes, errors, metrics, health, Socket.IO) is the same code on both.
 */
export async function createApp(config: Config, logger: Logger, extraMetrics: readonly MetricContract[] = []): Promise<INestApplication> {
  const module = AppModule.forRoot(config, logger, extraMetrics);
  const options = { logger: new PinoNestLogger(logger.child({ component: 'nest' })), abortOnError: false };
  let app: INestApplication;
  if (config.HTTP_ADAPTER === 'fastify') {
    const fastify = await NestFactory.create<NestFastifyApplication>(
      module,
      new FastifyAdapter({
        bodyLimit: config.BODY_LIMIT_BYTES,
        trustProxy: config.TRUST_PROXY,
        // find-my-way answers a parameter over 100 characters with its own 414. Express has no such
        // limit and Node already caps the whole request head at 16 KiB, so an over-long id gets the
        // same 400 ("expected a UUID") on both adapters.
        routerOptions: { maxParamLength: 16_384 },
        frameworkErrors: answerRouterError,
      }),
      options,
    );
    await fastify.register(fastifyHelmet);
    app = fastify;
  } else {
    const express = await NestFactory.create<NestExpressApplication>(module, new ExpressAdapter(), { ...options, bodyParser: false });
    express.set('trust proxy', config.TRUST_PROXY);
    express.disable('x-powered-by');
    // Before the body parser: its 400 and 413 end the request, and must carry the headers too.
    express.use(securityHeaders);
    express.useBodyParser('json', { limit: config.BODY_LIMIT_BYTES });
    app = express;
  }
  if (config.CORS_ORIGINS.length > 0) app.enableCors({ origin: config.CORS_ORIGINS });
  app.useWebSocketAdapter(
    config.REDIS_URL
      ? new RedisIoAdapter(app, { url: config.REDIS_URL, prefix: config.QUEUE_PREFIX }, logger.child({ component: 'socket.io' }))
      : new IoAdapter(app),
  );
  answerStrayRequests(app.getHttpServer(), SOCKET_IO_PATH);
  return app;
}
