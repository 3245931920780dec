// @ts-check
// Settings of the native stack: the environment, the .env file under it, and the config schema of
// the API (apps/api/src/config/schema.ts) for the defaults and validation of every variable the
// stack reads. The stack-only knobs (exporter ports, RUN_DIR…) are not application settings and
// are documented at the top of scripts/stack.mjs.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * KEY=VALUE lines as in .env.example: blank lines and `#` comments skipped, an optional `export `
 * prefix, values optionally in single quotes (literal) or double quotes (\n, \" and \\ escapes);
 * unquoted values end at ` #` (an inline comment). Lines that are none of these are reported.
 * @param {string} text
 * @returns {{ values: Record<string, string>, problems: string[] }}
 */
export function parseDotenv(text) {
  /** @type {Record<string, string>} */
  const values = {};
  /** @type {string[]} */
  const problems = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) {
      problems.push(`line ${index + 1}: expected KEY=VALUE`);
      return;
    }
    const [, key, rest] = /** @type {[string, string, string]} */ (/** @type {unknown} */ (match));
    let value = rest;
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote)) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\(["\\n])/g, (_m, c) => (c === 'n' ? '\n' : c));
    } else {
      value = value.replace(/\s+#.*$/, '').trim();
    }
    values[key] = value;
  });
  return { values, problems };
}

/** @param {string} name @param {string | undefined} value @param {number} fallback */
function stackPort(name, value, fallback) {
  if (value === undefined || value === '') return { value: fallback };
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    return { problem: `${name}: expected a port between 1 and 65535, got "${value}"` };
  return { value: port };
}

/** Interfaces that mean "every interface": scrape and probe them through loopback. */
const localAddress = (/** @type {string} */ host) => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);

/**
 * @typedef {object} Settings
 * @property {string} root
 * @property {string} runDir
 * @property {string | undefined} envFile the .env file read, if any
 * @property {Record<string, string | undefined>} apiEnv environment of the API: .env under the real environment
 * @property {string[]} apiEnvNames variables the API reads (from the schema), for the restart fingerprint
 * @property {{ host: string, port: number, probeHost: string, managementHost: string | undefined, managementPort: number | undefined }} api
 * @property {number} prometheusPort
 * @property {string} prometheusRetention
 * @property {number} alertmanagerPort
 * @property {number} nodeExporterPort
 * @property {number} postgresExporterPort
 * @property {number} redisExporterPort
 * @property {number} alertSinkPort
 * @property {string | undefined} databaseUrl
 * @property {string | undefined} redisUrl
 * @property {string | undefined} metricsToken
 * @property {string | undefined} alertWebhookUrl
 * @property {string | undefined} alertWebhookUrlFile
 * @property {'auto' | 'native' | 'compose'} mode
 */

/** The run directory only: what `down` and `status` need, without the compiled schema. */
export function runDirOf(/** @type {string} */ root, env = process.env) {
  const dir = env.RUN_DIR || '.run';
  return isAbsolute(dir) ? dir : resolve(root, dir);
}

/** The mode setting only. @returns {'auto' | 'native' | 'compose'} */
export function modeOf(env = process.env) {
  const mode = env.STACK_MODE || 'auto';
  if (mode !== 'auto' && mode !== 'native' && mode !== 'compose') {
    throw new SettingsError([`STACK_MODE: expected auto, native or compose, got "${mode}"`]);
  }
  return mode;
}

export class SettingsError extends Error {
  /** @param {string[]} problems */
  constructor(problems) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\nSee .env.example for every variable and its meaning.`);
    this.problems = problems;
  }
}

/**
 * Reads .env (ENV_FILE, default <root>/.env; the environment wins over it), validates the
 * variables the stack uses against the API's schema and applies their defaults.
 * @param {string} root
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<Settings>}
 */
export async function loadSettings(root, env = process.env) {
  const schemaModule = join(root, 'apps/api/dist/src/config/schema.js');
  if (!existsSync(schemaModule)) throw new SettingsError(['the API is not built: run `npm run up` (it builds first) or `npx tsc -b`']);
  /** @type {{ ENV: Record<string, { usedBy: readonly string[], secret?: boolean, schema: { safeParse(v: unknown): { success: boolean, data?: unknown, error?: { issues: { message: string }[] } } } }> }} */
  const { ENV } = await import(pathToFileURL(schemaModule).href);

  const envFile = env.ENV_FILE ? resolve(root, env.ENV_FILE) : join(root, '.env');
  /** @type {string[]} */
  const problems = [];
  /** @type {Record<string, string>} */
  let fileValues = {};
  if (existsSync(envFile)) {
    const parsed = parseDotenv(readFileSync(envFile, 'utf8'));
    fileValues = parsed.values;
    problems.push(...parsed.problems.map((p) => `${envFile} ${p}`));
  } else if (env.ENV_FILE) {
    problems.push(`ENV_FILE: ${envFile} does not exist`);
  }
  /** @type {Record<string, string | undefined>} */
  const merged = { ...fileValues, ...env };
  // As in the API: an empty value counts as unset.
  const raw = (/** @type {string} */ name) => (merged[name] === '' ? undefined : merged[name]);

  /** Validated value of a schema variable, default applied. @param {string} name */
  const read = (name) => {
    const spec = ENV[name];
    if (!spec) throw new Error(`the config schema has no variable ${name}`);
    const result = spec.schema.safeParse(raw(name));
    if (result.success) return result.data;
    const shown = spec.secret || raw(name) === undefined ? '' : `, got "${raw(name)}"`;
    problems.push(`${name}: ${result.error?.issues[0]?.message ?? 'invalid'}${shown}`);
    return undefined;
  };
  /** @param {string} name @param {number} fallback */
  const port = (name, fallback) => {
    const result = stackPort(name, raw(name), fallback);
    if (result.problem) problems.push(result.problem);
    return result.value ?? fallback;
  };

  const host = /** @type {string} */ (read('HOST'));
  const managementPort = /** @type {number | undefined} */ (read('MANAGEMENT_PORT'));
  /** @type {Settings} */
  const settings = {
    root,
    runDir: runDirOf(root, env),
    envFile: existsSync(envFile) ? envFile : undefined,
    apiEnv: merged,
    apiEnvNames: Object.keys(ENV).filter((name) => ENV[name]?.usedBy.includes('api')),
    api: {
      host,
      port: /** @type {number} */ (read('PORT')),
      probeHost: localAddress(host ?? '127.0.0.1'),
      managementPort,
      managementHost: managementPort === undefined ? undefined : localAddress(/** @type {string} */ (read('MANAGEMENT_HOST'))),
    },
    prometheusPort: /** @type {number} */ (read('PROMETHEUS_PORT')),
    prometheusRetention: /** @type {string} */ (read('PROMETHEUS_RETENTION')),
    alertmanagerPort: /** @type {number} */ (read('ALERTMANAGER_PORT')),
    nodeExporterPort: port('NODE_EXPORTER_PORT', 9100),
    postgresExporterPort: port('POSTGRES_EXPORTER_PORT', 9187),
    redisExporterPort: port('REDIS_EXPORTER_PORT', 9121),
    alertSinkPort: port('ALERT_SINK_PORT', 9095),
    databaseUrl: /** @type {string | undefined} */ (read('DATABASE_URL')),
    redisUrl: /** @type {string | undefined} */ (read('REDIS_URL')),
    metricsToken: /** @type {string | undefined} */ (read('METRICS_TOKEN')),
    alertWebhookUrl: /** @type {string | undefined} */ (read('ALERT_WEBHOOK_URL')),
    alertWebhookUrlFile: /** @type {string | undefined} */ (read('ALERT_WEBHOOK_URL_FILE')),
    mode: 'auto',
  };
  try {
    settings.mode = modeOf(env);
  } catch (error) {
    problems.push(...(error instanceof SettingsError ? error.problems : [String(error)]));
  }
  if (problems.length > 0) throw new SettingsError(problems);
  return settings;
}
