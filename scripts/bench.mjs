// @ts-check
// `npm run bench`, `npm run bench:smoke`, `npm run soak`. bench/ is not a workspace, so running or
// testing the app neither builds it nor installs what it compares against (OpenTelemetry, three
// other metrics libraries): on first use this installs bench/'s own dependencies into
// bench/node_modules, builds it (with the API and the library it measures), then runs its bin.
//   node scripts/bench.mjs run [bench options]    node scripts/bench.mjs soak [soak options]
//   node scripts/bench.mjs tracing [--rounds N --seconds N --adapter express|fastify]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binPath } from './lib/packages.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bench = join(root, 'bench');
const BINS = { run: 'obsnest-bench', soak: 'obsnest-soak', tracing: 'obsnest-bench-tracing' };

const [command, ...args] = process.argv.slice(2);
if (command !== 'run' && command !== 'soak' && command !== 'tracing') {
  console.error('usage: node scripts/bench.mjs run|soak|tracing [options]');
  process.exit(64);
}

/** @param {string} file @param {string[]} argv @param {string} cwd */
const node = (file, argv, cwd = root) => execFileSync(process.execPath, [file, ...argv], { cwd, stdio: 'inherit' });

// --system: the Debian packages too, wrk (the load generator) among them.
node(join(root, 'scripts/ensure-deps.mjs'), ['--system']);
const marker = join(bench, 'node_modules', '.package-lock.json');
const lock = join(bench, 'package-lock.json');
if (!existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs)) {
  console.error('[bench] installing bench/ dependencies into bench/node_modules (first use)…');
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: bench, stdio: 'inherit' });
}
// The API too: the users section and the soak start it through its bin.
node(binPath('typescript', 'tsc'), ['-b', 'apps/api', 'bench']);

/** @type {{ bin: Record<string, string> }} */
const manifest = JSON.parse(readFileSync(join(bench, 'package.json'), 'utf8'));
const result = spawnSync(process.execPath, [join(bench, /** @type {string} */ (manifest.bin[BINS[command]])), ...args], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
