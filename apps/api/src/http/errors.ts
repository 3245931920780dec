import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { requestIdOf } from '@obsnest/observability';
import { z } from 'zod';
import { DatabaseUnavailableError } from '../database/database.js';

export const fieldProblemSchema = z.object({ field: z.string(), message: z.string() });
export type FieldProblem = Readonly<z.output<typeof fieldProblemSchema>>;

/** Every error body has this shape, whatever raised it (and the OpenAPI document says so from here). */
export const errorBodySchema = z.object({
  statusCode: z.int(),
  error: z.string(),
  message: z.string(),
  details: z.array(fieldProblemSchema).optional().meta({ description: 'each invalid field (400 only)' }),
  requestId: z.uuid().optional().meta({ description: 'the x-request-id response header, also in the log lines of the request' }),
});
export type ErrorBody = z.output<typeof errorBodySchema>;

export class ValidationFailed extends HttpException {
  constructor(readonly problems: FieldProblem[]) {
    super(problems.map((p) => `${p.field}: ${p.message}`).join('; '), HttpStatus.BAD_REQUEST);
  }
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The stable body, for the few answers given outside Nest's exception layer. */
export function errorBody(statusCode: number, message: string, requestId?: string): ErrorBody {
  return { statusCode, error: REASONS[statusCode] ?? 'Error', message, requestId };
}

/**
 * The router's 404 says `Cannot GET <url>`, query string included. Query strings carry tokens often
 * enough (`?token=`, `?api_key=`) that echoing them into a body proxies and browsers may log is
 * avoided; the path alone says what was not found, and a long one is cut as in the access log.
 */
function withoutQuery(message: string): string {
  const match = /^(Cannot [A-Z-]+ )([^?]*)/.exec(message);
  if (!match) return message;
  const path = match[2];
  return `${match[1]}${path.length > 256 ? `${path.slice(0, 256)}…` : path}`;
}

/** Errors thrown below Nest (body parsers) carry their status here. */
function statusOf(exception: unknown): number | undefined {
  const e = exception as { status?: unknown; statusCode?: unknown };
  const status = typeof e?.statusCode === 'number' ? e.statusCode : e?.status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : undefined;
}

/**
 * Turns anything thrown into the stable error shape. 5xx bodies never carry internal messages;
 * those go to the log with the request id that the body also carries.
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('ErrorFilter');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<object>();
    const body = this.toBody(exception);
    body.requestId = requestIdOf(req);
    if (exception instanceof DatabaseUnavailableError) {
      // Expected during an outage, once per request: one line with the cause, not a stack trace each.
      const cause = exception.cause instanceof Error ? exception.cause.message : String(exception.cause);
      this.logger.warn(`database unavailable: ${cause} (request ${body.requestId})`);
    } else if (body.statusCode >= 500) {
      const err = exception instanceof Error ? exception : new Error(String(exception));
      this.logger.error(`${err.name}: ${err.message} (request ${body.requestId})`, err.stack);
    }
    const adapter = this.adapterHost.httpAdapter;
    if (body.statusCode === 503) adapter.setHeader(ctx.getResponse(), 'retry-after', '5');
    adapter.reply(ctx.getResponse(), body, body.statusCode);
  }

  private toBody(exception: unknown): ErrorBody {
    if (exception instanceof ValidationFailed) {
      return { statusCode: 400, error: REASONS[400], message: exception.message, details: exception.problems };
    }
    if (exception instanceof DatabaseUnavailableError) {
      return { statusCode: 503, error: REASONS[503], message: 'the database is unavailable, try again shortly' };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const message =
        typeof response === 'string'
          ? response
          : Array.isArray((response as { message?: unknown }).message)
            ? (response as { message: string[] }).message.join('; ')
            : String((response as { message?: unknown }).message ?? exception.message);
      return { statusCode: status, error: REASONS[status] ?? 'Error', message: status === 404 ? withoutQuery(message) : message };
    }
    const status = statusOf(exception);
    if (status !== undefined && status < 500) {
      // body-parser and Fastify errors: their messages describe the client's input, safe to return.
      return { statusCode: status, error: REASONS[status] ?? 'Error', message: (exception as Error).message ?? 'bad request' };
    }
    return { statusCode: 500, error: REASONS[500], message: 'internal error' };
  }
}
