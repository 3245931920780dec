// @ts-check
// The one reader of `.env` for every command that starts something from this repository (`npm run
// api`, `npm run up`, `npm run dev`): the environment wins over the file, ENV_FILE names another
// file, and a problem stops the command as the API's own config does, naming the variable and
// exiting with 78 (EX_CONFIG).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Exit code of a bad configuration, as the API's own (EX_CONFIG from sysexits.h). */
export const EX_CONFIG = 78;

export class ConfigurationError extends Error {
  /** @param {readonly string[]} problems one line each, starting with the variable's name */
  constructor(problems) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\nSee .env.example for every variable and its meaning.`);
    this.name = 'ConfigurationError';
    this.problems = problems;
  }
}

/**
 * KEY=VALUE lines as in .env.example: blank lines and `#` comments skipped, an optional `export `
 * prefix, values optionally in single quotes (literal) or double quotes (\n, \" and \\ escapes);
 * unquoted values end at ` #` (an inline comment). Hand-written rather than node:util's parseEnv
 * because that one silently merges a malformed line into the next; here it is reported.
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
    const key = /** @type {string} */ (match[1]);
    let value = /** @type {string} */ (match[2]);
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

/**
 * @typedef {object} Environment
 * @property {Record<string, string | undefined>} values the file's values under the environment's
 * @property {string | undefined} envFile the file read, if one exists
 * @property {string[]} problems unreadable lines, or an ENV_FILE that does not exist
 */

/**
 * Reads ENV_FILE (default <root>/.env) under the given environment. A missing default .env is
 * fine (everything has a default or comes from the environment); a missing ENV_FILE is a problem.
 * @param {string} root the repository root, where `.env` is looked for
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {Environment}
 */
export function readEnvironment(root, env = process.env) {
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
  return { values: { ...fileValues, ...env }, envFile: existsSync(envFile) ? envFile : undefined, problems };
}

/**
 * Validates `raw` values against zod-like schemas, as the API's loadConfig does: an empty value
 * counts as unset, a problem names the variable and echoes the value unless it is a secret.
 * @template {Record<string, { secret?: boolean, schema: { safeParse(v: unknown): { success: true, data: unknown } | { success: false, error: { issues: readonly { message: string }[] } } } }>} Specs
 * @param {Specs} specs
 * @param {Record<string, string | undefined>} raw
 * @param {string[]} problems collects what is wrong
 * @returns {{ [K in keyof Specs]: unknown }}
 */
export function validate(specs, raw, problems) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = raw[name] === '' ? undefined : raw[name];
    const result = spec.schema.safeParse(value);
    if (result.success) {
      out[name] = result.data;
      continue;
    }
    const shown = spec.secret || value === undefined ? '' : `, got "${value}"`;
    problems.push(`${name}: ${result.error.issues[0]?.message ?? 'invalid'}${shown}`);
  }
  return /** @type {{ [K in keyof Specs]: unknown }} */ (out);
}

/** Prints a ConfigurationError for the person fixing their .env and exits with 78. @param {ConfigurationError} error @returns {never} */
export function exitWithConfigurationError(error) {
  process.stderr.write(`${error.message}\n`);
  process.exit(EX_CONFIG);
}
