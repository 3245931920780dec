// The consumer app of the `consumer` section: copied into a temporary directory outside the
// repository, next to the packed library installed from its tarball, as a user's project would
// have it. Plain JavaScript with Nest's decorators applied by hand, so nothing is compiled there.
//   ADAPTER=express|fastify VARIANT=bare|bare-classes|module PORT=<port> node app.mjs
import 'reflect-metadata';
import { Controller, Get, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

const adapter = process.env.ADAPTER ?? 'express';
const variant = process.env.VARIANT ?? 'bare';

class BenchController {
  get(id) {
    return { id, ok: true };
  }
}
Reflect.decorate([Get(':id')], BenchController.prototype, 'get', Object.getOwnPropertyDescriptor(BenchController.prototype, 'get'));
Param('id')(BenchController.prototype, 'get', 0);
Reflect.decorate([Controller('bench')], BenchController);

const imports = [];
if (variant === 'module') {
  const { ObservabilityModule } = await import('@obsnest/observability');
  // Every default on: metrics (default Node metrics included), request ids, health endpoints.
  imports.push(ObservabilityModule.forRoot({ metricsEnabled: true, appVersion: '1.0.0' }));
} else if (variant !== 'bare' && variant !== 'bare-classes') {
  throw new Error(`unknown VARIANT ${variant}`);
}
class AppModule {}
Reflect.decorate([Module({ imports, controllers: [BenchController] })], AppModule);

let app;
if (adapter === 'fastify') {
  const { FastifyAdapter } = await import('@nestjs/platform-fastify');
  app = await NestFactory.create(AppModule, new FastifyAdapter(), { logger: false });
} else {
  app = await NestFactory.create(AppModule, { logger: false });
}
if (variant === 'bare-classes') expressClasses(app);
app.enableShutdownHooks();
await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');

/**
 * What the module does to Express' server, without any instrumentation: the server creates its
 * requests and responses with Express' prototypes, so Express' per-request `Object.setPrototypeOf`
 * changes nothing and their hidden classes stay the same. The reference that the module's own
 * instrumentation cost is measured against on Express (the module arm does this too).
 */
function expressClasses(nestApp) {
  if (adapter !== 'express') throw new Error('VARIANT=bare-classes is for Express');
  const server = nestApp.getHttpServer();
  const express = nestApp.getHttpAdapter().getInstance();
  const slot = (name) => Object.getOwnPropertySymbols(server).find((s) => s.description === name);
  const [responseKey, requestKey] = [slot('ServerResponse'), slot('IncomingMessage')];
  const [Response, Request] = [server[responseKey], server[requestKey]];
  function ExpressResponse(req, options) {
    Response.call(this, req, options);
  }
  ExpressResponse.prototype = express.response;
  function ExpressRequest(socket) {
    Request.call(this, socket);
  }
  ExpressRequest.prototype = express.request;
  server[responseKey] = ExpressResponse;
  server[requestKey] = ExpressRequest;
}
