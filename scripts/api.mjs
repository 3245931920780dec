// @ts-check
// `npm run api`: the API with the settings of `.env` at the repository root under the environment
// (the environment wins; ENV_FILE names another file), read by the loader `npm run up` uses. The
// API then validates them itself, and a bad value stops it naming the variable, exit code 78.
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigurationError, exitWithConfigurationError, readEnvironment } from './lib/environment.mjs';
import { binBuilt, binPath } from './lib/packages.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values, envFile, problems } = readEnvironment(root);
if (problems.length > 0) exitWithConfigurationError(new ConfigurationError(problems));
if (!binBuilt('@obsnest/api', 'obsnest-api')) {
  console.error('[api] the API is not built: run `npm run api` (it builds first) or `npx tsc -b`');
  process.exit(1);
}
if (envFile) console.error(`[api] settings from the environment and ${relative(process.cwd(), envFile) || envFile}`);
for (const [name, value] of Object.entries(values)) if (value !== undefined) process.env[name] = value;
// In this process rather than a child: signals (Ctrl-C, SIGTERM) reach the API's own shutdown as they would `node main.js`.
await import(pathToFileURL(binPath('@obsnest/api', 'obsnest-api')).href);
