// @ts-check
// `npm run dev`: the API in watch mode. TypeScript's own incremental build (`tsc -b --watch`)
// recompiles what changed; each time it reports a build without errors, the API is restarted on the
// new code. Restarting on the compiler's report rather than on file changes in dist/ (`node --watch`)
// means one restart per build, never on a half-emitted dist/, and none while the code does not compile
// (the running API stays up, the errors are on screen).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigurationError, exitWithConfigurationError, readEnvironment } from './lib/environment.mjs';
import { binPath } from './lib/packages.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** TypeScript's own `tsc` (its package exports no bin path, so through its manifest's `bin`). */
const tscManifest = createRequire(import.meta.url).resolve('typescript/package.json');
const tsc = join(dirname(tscManifest), JSON.parse(readFileSync(tscManifest, 'utf8')).bin.tsc);
/** The project whose references cover everything the API loads (the observability package). */
const PROJECT = 'apps/api';
/** What `npm run api` runs: the API package's bin. */
const API_ARGS = [binPath('@obsnest/api', 'obsnest-api')];
/** tsc's closing line of each watch build, stable across TypeScript versions. */
const BUILD_DONE = /Found (\d+) errors?\b.*Watching for file changes/;
const CHANGE_SEEN = /File change detected/;

/**
 * The API's environment, as `npm run api` gives it: `.env` under the process environment, through the
 * loader `npm run api` and `npm run up` share. Read once per `npm run dev`, handed to every restart.
 * @returns {NodeJS.ProcessEnv}
 */
function apiEnvironment() {
  const { values, problems } = readEnvironment(root);
  if (problems.length > 0) exitWithConfigurationError(new ConfigurationError(problems));
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env };
  for (const [name, value] of Object.entries(values)) if (value !== undefined) env[name] = value;
  return env;
}

/** @param {string} line */
const say = (line) => process.stderr.write(`[dev] ${line}\n`);

const pretty = process.stdout.isTTY ? ['--pretty'] : ['--pretty', 'false'];
say(`building ${PROJECT}…`);
const first = spawnSync(process.execPath, [tsc, '-b', PROJECT, ...pretty], { cwd: root, stdio: 'inherit' });
if (first.status !== 0) {
  say('the build failed: fix the errors above and run `npm run dev` again');
  process.exit(first.status ?? 1);
}

const env = apiEnvironment();
let stopping = false;

/** @type {import('node:child_process').ChildProcess | undefined} */
let api;
/** Resolves once the current API process has exited (immediately when none runs). */
let apiExited = Promise.resolve();

function startApi() {
  const child = spawn(process.execPath, API_ARGS, { cwd: root, env, stdio: 'inherit' });
  api = child;
  apiExited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      if (api === child) api = undefined;
      // A crash at start-up (a runtime error in the new code) waits for the next good build.
      if (!stopping && !restarting)
        say(`the API exited (${signal ?? `code ${code}`}); it starts again after the next build without errors`);
      resolve();
    });
  });
}

let restarting = false;
let restartAgain = false;
/** SIGTERM is the API's graceful shutdown; a build that lands meanwhile restarts once more after. */
async function restartApi() {
  if (restarting) {
    restartAgain = true;
    return;
  }
  restarting = true;
  do {
    restartAgain = false;
    const started = Date.now();
    if (api) {
      api.kill('SIGTERM');
      await apiExited;
    }
    if (stopping) break;
    say(`restarting the API (previous one stopped in ${Date.now() - started} ms)`);
    startApi();
  } while (restartAgain);
  restarting = false;
}

// assumeChangesOnlyAffectDirectDependencies: an edit rechecks the files importing the edited one, not
// everything above them (with the tests in the same project, that is every test file), which keeps a
// rebuild within a second or two. A type error further up shows at the next full `tsc -b` (`npm test`,
// `npm run api`); the emitted JavaScript is the same either way.
const WATCH_FLAGS = ['--watch', '--preserveWatchOutput', '--assumeChangesOnlyAffectDirectDependencies'];
// Known gap: TypeScript 7 prints its first "Watching for file changes" a second or two before its
// watchers are in place; a file saved in that window is not seen until it is saved again.
// A process group of its own: on Node 20, typescript's `tsc` script runs the native compiler as a
// child and does not pass signals on, so stopping means signalling the whole group.
const compiler = spawn(process.execPath, [tsc, '-b', PROJECT, ...WATCH_FLAGS, ...pretty], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
  detached: true,
});
let changed = false;
let pending = '';
compiler.stdout?.setEncoding('utf8').on('data', (/** @type {string} */ chunk) => {
  const lines = (pending + chunk).split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) {
    if (line.trim() === '') continue;
    // On stderr with a prefix, leaving stdout to the API's log lines.
    process.stderr.write(`[tsc] ${line}\n`);
    if (CHANGE_SEEN.test(line)) changed = true;
    const done = BUILD_DONE.exec(line);
    if (done && changed) {
      changed = false;
      if (done[1] === '0') void restartApi();
      else say('not restarting: the build has errors; the API keeps running the last code that compiled');
    }
  }
});

startApi();
say(`watching ${PROJECT} (tsc in process group ${compiler.pid}): the API restarts after each build without errors; Ctrl-C stops both`);

/** @param {number} code */
async function stop(code) {
  if (stopping) return;
  stopping = true;
  const compilerExited = new Promise((resolve) => {
    if (compiler.exitCode !== null || compiler.signalCode !== null) resolve(undefined);
    else compiler.once('exit', resolve);
  });
  try {
    if (compiler.pid !== undefined) process.kill(-compiler.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  api?.kill('SIGTERM');
  await Promise.all([compilerExited, apiExited]);
  process.exit(code);
}

compiler.once('exit', (code, signal) => {
  if (stopping) return;
  say(`tsc exited (${signal ?? `code ${code}`}); stopping`);
  void stop(code ?? 1);
});
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));
