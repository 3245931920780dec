import fastifyHelmet from '@fastify/helmet';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { IoAdapter } from '@nestjs/platform-socket.io';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { AppModule } from './app.module.js';
import type { Config } from './config/config.js';
import { PinoNestLogger } from './logging/logger.js';

/**
 * Builds the application for either HTTP adapter. The adapter is the only thing chosen here;
 * everything above it (routes, errors, metrics, health, Socket.IO) is the same code on both.
 */
export async function createApp(config: Config, logger: Logger): Promise<INestApplication> {
  const module = AppModule.forRoot(config, logger);
  const options = { logger: new PinoNestLogger(logger.child({ component: 'nest' })), abortOnError: false };
  let app: INestApplication;
  if (config.HTTP_ADAPTER === 'fastify') {
    const fastify = await NestFactory.create<NestFastifyApplication>(
      module,
      new FastifyAdapter({ bodyLimit: config.BODY_LIMIT_BYTES, trustProxy: config.TRUST_PROXY }),
      options,
    );
    await fastify.register(fastifyHelmet);
    app = fastify;
  } else {
    const express = await NestFactory.create<NestExpressApplication>(module, new ExpressAdapter(), { ...options, bodyParser: false });
    express.useBodyParser('json', { limit: config.BODY_LIMIT_BYTES });
    express.set('trust proxy', config.TRUST_PROXY);
    express.disable('x-powered-by');
    express.use(helmet());
    app = express;
  }
  if (config.CORS_ORIGINS.length > 0) app.enableCors({ origin: config.CORS_ORIGINS });
  app.useWebSocketAdapter(new IoAdapter(app));
  return app;
}
