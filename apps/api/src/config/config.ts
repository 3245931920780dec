import { z } from 'zod';
import { ENV, type EnvName } from './schema.js';

type Schemas = { [K in EnvName]: (typeof ENV)[K]['schema'] };
export type Config = z.output<z.ZodObject<Schemas>>;

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const shape = Object.fromEntries(Object.entries(ENV).map(([name, spec]) => [name, spec.schema])) as Schemas;
const schema = z.object(shape);

/** Names the variable and what is wrong, and echoes the value only when it is not a secret. */
function describe(issue: z.core.$ZodIssue, env: Record<string, string | undefined>): string {
  const name = String(issue.path[0]) as EnvName;
  const spec = ENV[name];
  const value = env[name];
  const shown = spec && 'secret' in spec && spec.secret ? '' : value === undefined ? '' : `, got "${value}"`;
  return `${name}: ${issue.message}${shown}`;
}

/**
 * Validates the environment against the schema and applies the rules that span variables.
 * Empty values count as unset, as in most .env tooling.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.keys(ENV).flatMap((name) => (env[name] ? [[name, env[name]]] : [])));
  const parsed = schema.safeParse(present);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((issue) => describe(issue, env)));
  const config = parsed.data;
  const problems: string[] = [];
  if (config.NODE_ENV === 'production' && config.METRICS_ENABLED && !config.METRICS_TOKEN && config.MANAGEMENT_PORT === undefined) {
    problems.push(
      'METRICS_TOKEN or MANAGEMENT_PORT: NODE_ENV=production would expose /metrics publicly; set METRICS_TOKEN (a bearer token) or MANAGEMENT_PORT (an internal port)',
    );
  }
  if (config.MANAGEMENT_PORT !== undefined && config.MANAGEMENT_PORT === config.PORT) {
    problems.push(`MANAGEMENT_PORT: must differ from PORT (${config.PORT})`);
  }
  // The workers of one instance must share what the instance holds, as replicas do.
  if (config.API_WORKERS > 1 && !config.DATABASE_URL) {
    problems.push(
      `API_WORKERS: ${config.API_WORKERS} workers need DATABASE_URL (the embedded PGlite database belongs to one process); set DATABASE_URL or API_WORKERS=1`,
    );
  }
  if (config.API_WORKERS > 1 && !config.REDIS_URL) {
    problems.push(
      `API_WORKERS: ${config.API_WORKERS} workers need REDIS_URL (with the in-process queue and Socket.IO adapter, events would reach only the clients of the worker that emitted them); set REDIS_URL or API_WORKERS=1`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The configuration as safe to log: secrets shown only as set or unset. */
export function redactedConfig(config: Config): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(config).map(([name, value]) => {
      const spec = ENV[name as EnvName];
      const secret = 'secret' in spec && spec.secret;
      return [name, secret ? (value === undefined ? '(unset)' : '(set)') : value];
    }),
  );
}
