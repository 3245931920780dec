import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { context, trace } from '@opentelemetry/api';
import { Observable } from 'rxjs';
import { SpanStatusCode, tracer } from './spans.js';

interface RoutedRequest {
  method?: string;
  /** Express: the matched route; Nest registers full paths. */
  route?: { path?: unknown };
  baseUrl?: string;
  /** Fastify: the matched route's options. */
  routeOptions?: { url?: string };
}

function routeTemplate(req: RoutedRequest): string | undefined {
  if (typeof req.route?.path === 'string') return (req.baseUrl ?? '') + req.route.path;
  return req.routeOptions?.url;
}

/**
 * NestJS 12 is outside the range of @opentelemetry/instrumentation-nestjs-core, so the Nest part
 * of a trace is made here: the HTTP server span (from instrumentation-http, which knows no routes)
 * is renamed `POST /users` with http.route, and each handler runs in a span of its own
 * (`UsersController.create`), the parent of everything the handler does. Registered only when
 * tracing is on.
 */
@Injectable()
export class TracingInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const handlerName = `${ctx.getClass().name}.${ctx.getHandler().name}`;
    if (ctx.getType() === 'http') {
      const req = ctx.switchToHttp().getRequest<RoutedRequest>();
      const route = routeTemplate(req);
      const server = trace.getActiveSpan();
      if (server && route) {
        server.updateName(`${req.method ?? 'GET'} ${route}`);
        server.setAttribute('http.route', route);
      }
    }
    return new Observable((subscriber) => {
      const span = tracer.startSpan(handlerName, { attributes: { 'code.function.name': handlerName } });
      // The handler is called on subscription: subscribing inside the span's context makes its
      // awaits (queries, the outbox write) children of the handler span.
      return context.with(trace.setSpan(context.active(), span), () =>
        next.handle().subscribe({
          next: (value) => subscriber.next(value),
          error: (error: unknown) => {
            span.recordException(error instanceof Error ? error : String(error));
            span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
            span.end();
            subscriber.error(error);
          },
          complete: () => {
            span.end();
            subscriber.complete();
          },
        }),
      );
    });
  }
}
