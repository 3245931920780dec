// @ts-check
// Runs before anything that needs node_modules, so that `npm run up` and `npm test` are the only
// set-up commands a new user needs. Plain JS on purpose: it must run before TypeScript is installed.
//   node scripts/ensure-deps.mjs            npm dependencies, installed from package-lock.json when stale
//   node scripts/ensure-deps.mjs --system   and the Debian packages the tests use (promtool, exporters,
//                                           chromium…): installed when root, else the exact command to run
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const marker = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');

if (process.argv.includes('--system')) {
  // First, so that a missing package stops `npm test` at once rather than after the build.
  const result = spawnSync('bash', [join(root, 'scripts/install-system-deps.sh')], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('[setup] the tests need the system packages above; nothing was run');
    process.exit(result.status ?? 1);
  }
}

const stale = !existsSync(marker) || statSync(lock).mtimeMs > statSync(marker).mtimeMs;
if (stale) {
  console.error('[setup] installing npm dependencies from package-lock.json…');
  // `npm install` rather than `npm ci`: see .ci/run (biome's other-platform binaries).
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}
