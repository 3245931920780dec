import { z } from 'zod';

/**
 * The one definition of every environment variable the API reads: its category, whether it is
 * required, its default, and its meaning. `loadConfig` validates with it; `.env.example` and the
 * configuration reference of DEPLOYMENT.md are generated from it (with the stack runner's own
 * schema, scripts/stack/schema.mjs, for the variables only the stack or compose read).
 */

export const CATEGORIES = ['App', 'Database', 'Queue', 'Mail', 'Monitoring', 'Security'] as const;
export type Category = (typeof CATEGORIES)[number];

/**
 * required: start-up fails without it. recommended: works without it, but production should set it.
 * optional: a default or a fallback applies.
 */
export type Requirement = 'required' | 'optional' | 'recommended';

/** Which processes read the variable: always the API, and also the native stack runner or docker compose. */
export type Consumer = 'api' | 'stack' | 'compose';

export interface VariableSpec {
  readonly category: Category;
  readonly requirement: Requirement;
  readonly description: string;
  readonly usedBy: readonly Consumer[];
  /** Shown in .env.example; never the value of a secret. */
  readonly example?: string;
  /** Secrets are never logged nor echoed in error messages. */
  readonly secret?: boolean;
  /** For secrets: how to make one. */
  readonly howToGenerate?: string;
  readonly schema: z.ZodType;
}

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const anyPort = () =>
  z.coerce
    .number({ error: 'expected a port number' })
    .int({ error: 'expected a whole number' })
    .min(1, { error: 'expected a port between 1 and 65535' })
    .max(65535, { error: 'expected a port between 1 and 65535' });
const port = (fallback: number) => anyPort().default(fallback);
const optionalPort = () => anyPort().optional();

const int = (fallback: number, min: number, max: number) =>
  z.coerce
    .number({ error: 'expected a number' })
    .int({ error: 'expected a whole number' })
    .min(min, { error: `expected at least ${min}` })
    .max(max, { error: `expected at most ${max}` })
    .default(fallback);

const url = (protocols: readonly string[]) =>
  z
    .string()
    .trim()
    .refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      { error: `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
    );

const token = z.string().min(16, { error: 'expected at least 16 characters' });
const GENERATE_TOKEN = 'openssl rand -hex 32';

export const ENV = {
  // App
  NODE_ENV: {
    category: 'App',
    requirement: 'recommended',
    description: 'development, test or production. production enforces the safety rules below.',
    usedBy: ['api'],
    example: 'development',
    schema: z.enum(['development', 'test', 'production'], { error: 'expected development, test or production' }).default('development'),
  },
  HOST: {
    category: 'App',
    requirement: 'optional',
    description: 'Interface the API listens on. 127.0.0.1 keeps it local; 0.0.0.0 in containers.',
    usedBy: ['api', 'stack'],
    schema: z.string().min(1).default('127.0.0.1'),
  },
  PORT: {
    category: 'App',
    requirement: 'optional',
    description: 'HTTP port of the API (REST, Socket.IO, and /metrics unless MANAGEMENT_PORT is set).',
    usedBy: ['api', 'stack', 'compose'],
    schema: port(3000),
  },
  API_WORKERS: {
    category: 'App',
    requirement: 'optional',
    description:
      'node:cluster workers of this instance, sharing PORT (and MANAGEMENT_PORT); /metrics answers with all of them aggregated. Above 1 it needs DATABASE_URL and REDIS_URL. One per core at most.',
    usedBy: ['api', 'stack'],
    schema: int(1, 1, 64),
  },
  HTTP_ADAPTER: {
    category: 'App',
    requirement: 'optional',
    description: 'HTTP server under NestJS: express or fastify.',
    usedBy: ['api'],
    schema: z.enum(['express', 'fastify'], { error: 'expected express or fastify' }).default('express'),
  },
  LOG_LEVEL: {
    category: 'App',
    requirement: 'optional',
    description: 'pino log level: fatal, error, warn, info, debug, trace or silent.',
    usedBy: ['api'],
    schema: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'expected fatal, error, warn, info, debug, trace or silent',
      })
      .default('info'),
  },
  SHUTDOWN_DRAIN_MS: {
    category: 'App',
    requirement: 'optional',
    description:
      'On SIGTERM, how long readiness reports 503 before the server stops accepting (lets load balancers notice). 5000 behind a load balancer.',
    usedBy: ['api'],
    schema: int(0, 0, 120_000),
  },
  SHUTDOWN_TIMEOUT_MS: {
    category: 'App',
    requirement: 'optional',
    description: 'Longest wait for in-flight requests and running jobs on shutdown before exiting anyway.',
    usedBy: ['api'],
    schema: int(15_000, 1000, 600_000),
  },
  // Database
  DATABASE_URL: {
    category: 'Database',
    requirement: 'recommended',
    description: 'PostgreSQL connection URL. Unset: an embedded PGlite database under DATA_DIR (development only).',
    usedBy: ['api', 'stack'],
    example: 'postgres://app:CHANGE_ME@127.0.0.1:5432/app',
    secret: true,
    howToGenerate: 'the password part: openssl rand -base64 24',
    schema: url(['postgres:', 'postgresql:']).optional(),
  },
  DATA_DIR: {
    category: 'Database',
    requirement: 'optional',
    description: 'Where the embedded database and the development mailbox (DATA_DIR/mail) are kept.',
    usedBy: ['api'],
    schema: z.string().min(1).default('./.data'),
  },
  DB_POOL_MAX: {
    category: 'Database',
    requirement: 'optional',
    description: 'Maximum PostgreSQL connections of one API process (each of API_WORKERS has its own pool).',
    usedBy: ['api'],
    schema: int(10, 1, 500),
  },
  DB_CONNECT_TIMEOUT_MS: {
    category: 'Database',
    requirement: 'optional',
    description: 'Longest wait for a database connection; requests fail fast with 503 past it.',
    usedBy: ['api'],
    schema: int(2000, 100, 60_000),
  },
  DB_QUERY_TIMEOUT_MS: {
    category: 'Database',
    requirement: 'optional',
    description:
      'Longest wait for the answer to one query on an open connection (a frozen server, a lost network path); past it the request fails with 503. Longer than your slowest legitimate query, migrations included.',
    usedBy: ['api'],
    schema: int(30_000, 1000, 600_000),
  },
  // Queue
  REDIS_URL: {
    category: 'Queue',
    requirement: 'recommended',
    description: 'Redis URL for the BullMQ email queue. Unset: an in-process queue (jobs do not survive a restart).',
    usedBy: ['api', 'stack'],
    example: 'redis://127.0.0.1:6379',
    secret: true,
    howToGenerate: 'if Redis has a password (redis://:PASSWORD@host:6379): openssl rand -hex 24',
    schema: url(['redis:', 'rediss:']).optional(),
  },
  QUEUE_PREFIX: {
    category: 'Queue',
    requirement: 'optional',
    description: 'Key prefix of the BullMQ queues in Redis (separates apps sharing one Redis).',
    usedBy: ['api'],
    schema: z
      .string()
      .regex(/^[A-Za-z0-9:_-]{1,64}$/, { error: 'expected letters, digits, :, _ or -' })
      .default('obsnest'),
  },
  QUEUE_CONCURRENCY: {
    category: 'Queue',
    requirement: 'optional',
    description: 'Email jobs processed at once by one API process (each of API_WORKERS counts).',
    usedBy: ['api'],
    schema: int(5, 1, 100),
  },
  EMAIL_JOB_ATTEMPTS: {
    category: 'Queue',
    requirement: 'optional',
    description: 'Attempts per email job before it counts as failed.',
    usedBy: ['api'],
    schema: int(3, 1, 20),
  },
  EMAIL_JOB_BACKOFF_MS: {
    category: 'Queue',
    requirement: 'optional',
    description: 'First retry delay; doubles on each attempt (exponential backoff).',
    usedBy: ['api'],
    schema: int(1000, 0, 3_600_000),
  },
  OUTBOX_POLL_MS: {
    category: 'Queue',
    requirement: 'optional',
    description:
      'How often each instance looks for welcome emails committed but not yet queued (a signup is relayed at once; this bounds the delay after a Redis outage). Also the first retry delay of the outbox, doubling up to 30 s.',
    usedBy: ['api'],
    schema: int(1000, 50, 60_000),
  },
  // Mail
  SMTP_URL: {
    category: 'Mail',
    requirement: 'recommended',
    description: 'SMTP server, e.g. smtps://user:pass@smtp.example.com:465. Unset: messages are written to DATA_DIR/mail.',
    usedBy: ['api'],
    example: 'smtps://apikey:CHANGE_ME@smtp.example.com:465',
    secret: true,
    howToGenerate: 'from your mail provider (an SMTP or API-key credential)',
    schema: url(['smtp:', 'smtps:']).optional(),
  },
  MAIL_FROM: {
    category: 'Mail',
    requirement: 'optional',
    description: 'Sender of the welcome email.',
    usedBy: ['api'],
    schema: z.string().min(3).default('Observable API <no-reply@example.com>'),
  },
  // Monitoring
  METRICS_ENABLED: {
    category: 'Monitoring',
    requirement: 'optional',
    description: 'false turns off all metrics instrumentation and /metrics (to measure its cost).',
    usedBy: ['api'],
    schema: bool(true),
  },
  METRICS_TOKEN: {
    category: 'Monitoring',
    requirement: 'recommended',
    description: 'Bearer token that /metrics requires. In production set it or MANAGEMENT_PORT, or the API will not start.',
    usedBy: ['api', 'stack', 'compose'],
    secret: true,
    howToGenerate: GENERATE_TOKEN,
    schema: token.optional(),
  },
  MANAGEMENT_PORT: {
    category: 'Monitoring',
    requirement: 'optional',
    description: 'Serve /metrics and /health/* on this port only, not on PORT (keep it internal).',
    usedBy: ['api', 'stack'],
    schema: optionalPort(),
  },
  MANAGEMENT_HOST: {
    category: 'Monitoring',
    requirement: 'optional',
    description: 'Interface of the management port.',
    usedBy: ['api', 'stack'],
    schema: z.string().min(1).default('127.0.0.1'),
  },
  // Tracing: OpenTelemetry's own variable names, so its documentation and tooling apply unchanged.
  OTEL_TRACES_EXPORTER: {
    category: 'Monitoring',
    requirement: 'optional',
    description:
      'otlp turns tracing on (OpenTelemetry SDK, spans exported over OTLP/HTTP); none (the default) loads no SDK and records no span.',
    usedBy: ['api', 'compose'],
    example: 'none',
    schema: z.enum(['none', 'otlp'], { error: 'expected none or otlp' }).default('none'),
  },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    category: 'Monitoring',
    requirement: 'optional',
    description: 'Base URL of the OTLP/HTTP receiver (Jaeger, Tempo, a collector); spans go to its /v1/traces.',
    usedBy: ['api'],
    example: 'http://127.0.0.1:4318',
    schema: url(['http:', 'https:']).default('http://localhost:4318'),
  },
  OTEL_EXPORTER_OTLP_PROTOCOL: {
    category: 'Monitoring',
    requirement: 'optional',
    description: 'OTLP encoding: http/protobuf or http/json.',
    usedBy: ['api'],
    schema: z.enum(['http/protobuf', 'http/json'], { error: 'expected http/protobuf or http/json' }).default('http/protobuf'),
  },
  OTEL_SERVICE_NAME: {
    category: 'Monitoring',
    requirement: 'optional',
    description: 'service.name of the spans.',
    usedBy: ['api'],
    schema: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'expected letters, digits, ., _ or -' })
      .default('obsnest-api'),
  },
  OTEL_TRACES_SAMPLER: {
    category: 'Monitoring',
    requirement: 'optional',
    description:
      'Which traces are kept: parentbased_traceidratio with OTEL_TRACES_SAMPLER_ARG=0.01 keeps 1 % (and follows an incoming traceparent); always_on, always_off, traceidratio, parentbased_always_on (default), parentbased_always_off.',
    usedBy: ['api', 'compose'],
    schema: z
      .enum(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'], {
        error: 'expected always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio',
      })
      .default('parentbased_always_on'),
  },
  OTEL_TRACES_SAMPLER_ARG: {
    category: 'Monitoring',
    requirement: 'optional',
    description: 'Sampling ratio of the traceidratio samplers, between 0 and 1.',
    usedBy: ['api', 'compose'],
    schema: z.coerce
      .number({ error: 'expected a number between 0 and 1' })
      .min(0, { error: 'expected a number between 0 and 1' })
      .max(1, { error: 'expected a number between 0 and 1' })
      .optional(),
  },
  // Security
  CORS_ORIGINS: {
    category: 'Security',
    requirement: 'optional',
    description: 'Comma-separated origins allowed by CORS. Unset: CORS is off (no cross-origin browser access).',
    usedBy: ['api'],
    example: 'https://app.example.com',
    schema: z
      .string()
      .optional()
      .transform((v) =>
        v
          ? v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : [],
      ),
  },
  BODY_LIMIT_BYTES: {
    category: 'Security',
    requirement: 'optional',
    description: 'Largest request body accepted; larger ones get 413.',
    usedBy: ['api'],
    schema: int(102_400, 1024, 50 * 1024 * 1024),
  },
  TRUST_PROXY: {
    category: 'Security',
    requirement: 'optional',
    description: 'true when behind a reverse proxy that sets X-Forwarded-For.',
    usedBy: ['api'],
    schema: bool(false),
  },
  RATE_LIMIT_WRITES: {
    category: 'Security',
    requirement: 'optional',
    description:
      'Write requests (POST, PUT, PATCH, DELETE) one client IP may make per RATE_LIMIT_WINDOW_MS on one API process (each of API_WORKERS counts its own); past it 429 with Retry-After. 0 turns the limit off. Reads, /metrics and /health are never limited.',
    usedBy: ['api'],
    schema: int(600, 0, 1_000_000),
  },
  RATE_LIMIT_WINDOW_MS: {
    category: 'Security',
    requirement: 'optional',
    description: 'Sliding window of RATE_LIMIT_WRITES, in milliseconds.',
    usedBy: ['api'],
    schema: int(60_000, 1000, 3_600_000),
  },
} as const satisfies Record<string, VariableSpec>;

export type EnvName = keyof typeof ENV;
