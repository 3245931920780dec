import type { DynamicModule, ExecutionContext, Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import type { Config } from '../config/config.js';

/** Only these are limited: reads are cheap and cached by clients, and probes must never be refused. */
const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const isWrite = (context: ExecutionContext): boolean =>
  context.getType() === 'http' && WRITE_METHODS.has(context.switchToHttp().getRequest<{ method: string }>().method);

function describeWindow(ms: number): string {
  if (ms % 60_000 === 0) return ms === 60_000 ? 'minute' : `${ms / 60_000} minutes`;
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/**
 * One budget of write requests per client address, shared by every write route, so adding a route
 * does not add budget. The tracker is the framework's client IP (`req.ip`), which honours
 * TRUST_PROXY on both adapters; IPv6 clients are grouped by /64 as one host usually owns one.
 *
 * Counts are kept in this process: N instances behind a load balancer allow up to N times the limit.
 * Returns nothing to add when RATE_LIMIT_WRITES is 0.
 */
export function writeRateLimit(config: Config): { imports: DynamicModule[]; providers: Provider[] } {
  const limit = config.RATE_LIMIT_WRITES;
  if (limit === 0) return { imports: [], providers: [] };
  const window = describeWindow(config.RATE_LIMIT_WINDOW_MS);
  return {
    imports: [
      ThrottlerModule.forRoot({
        // Unnamed ("default") so the headers are the standard `Retry-After` and `X-RateLimit-*`.
        // blockDuration 0: a client over the limit may write again as soon as its oldest write in
        // the window expires, rather than being shut out for a whole further window.
        throttlers: [{ limit, ttl: config.RATE_LIMIT_WINDOW_MS, blockDuration: 0 }],
        skipIf: (context) => !isWrite(context),
        generateKey: (_context, tracker) => `writes:${tracker}`,
        errorMessage: (_context, detail) =>
          `too many write requests: at most ${limit} per ${window} from one client; retry in ${detail.timeToBlockExpire} s`,
      }),
    ],
    providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
  };
}
