// @ts-check
// Runs before anything that needs node_modules, so that `npm run up` and `npm test` are the only
// set-up commands a new user needs. Plain JS on purpose: it must run before TypeScript is installed.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const marker = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');

const stale = !existsSync(marker) || statSync(lock).mtimeMs > statSync(marker).mtimeMs;
if (stale) {
  console.error('[setup] installing npm dependencies from package-lock.json…');
  // `npm install` rather than `npm ci`: see .ci/run (biome's other-platform binaries).
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}
