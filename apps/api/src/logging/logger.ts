import type { LoggerService } from '@nestjs/common';
import { pino, type Logger } from 'pino';
import type { FinishedRequest } from '@obsnest/observability';
import { activeTraceIds } from '../tracing/spans.js';

/**
 * Paths pino blanks out wherever they appear in a log object: a second line of defence behind
 * the rule that secrets are never passed to the logger in the first place.
 */
const REDACT = [
  'password',
  'token',
  'authorization',
  '*.password',
  '*.token',
  '*.authorization',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.DATABASE_URL',
  '*.REDIS_URL',
  '*.SMTP_URL',
  '*.METRICS_TOKEN',
];

/**
 * `traceIds`: every line written inside a traced request or job carries its `trace_id` and
 * `span_id` (what Grafana's logs-to-trace link reads). Only when tracing is on: off, no mixin runs.
 */
export function createLogger(level: string, destination?: pino.DestinationStream, options: { traceIds?: boolean } = {}): Logger {
  return pino(
    {
      level,
      base: { service: 'api' },
      redact: { paths: REDACT, censor: '[redacted]' },
      ...(options.traceIds ? { mixin: () => activeTraceIds() ?? {} } : {}),
    },
    destination,
  );
}

/** Nest's own messages (start-up, routes, errors) go through pino too, so every line is JSON. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.logger.info({ context }, String(message));
  }

  error(message: unknown, stack?: string, context?: string): void {
    this.logger.error({ context, stack }, String(message));
  }

  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }

  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }

  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }

  fatal(message: unknown, context?: string): void {
    this.logger.fatal({ context }, String(message));
  }
}

/** The access log: one line per request, query strings left out (they may carry user data). */
export function accessLogger(logger: Logger): (request: FinishedRequest) => void {
  return (request) => {
    const path = request.url.split('?')[0];
    const level = request.statusCode >= 500 ? 'error' : request.statusCode >= 400 ? 'warn' : 'info';
    logger[level](
      {
        reqId: request.requestId,
        method: request.method,
        route: request.route,
        path: path.length > 256 ? `${path.slice(0, 256)}…` : path,
        status: request.statusCode,
        ms: Math.round(request.seconds * 1e4) / 10,
        aborted: request.aborted || undefined,
      },
      'request',
    );
  };
}
