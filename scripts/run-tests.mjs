// @ts-check
// Collects the compiled test files of every workspace and hands them to Node's test runner.
// Node 20's runner takes no globs, so the list is built here. Pass workspace folders or a
// name filter to narrow a run: `node scripts/run-tests.mjs apps/api users`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const WORKSPACES = [
  'packages/testkit',
  'packages/observability',
  'apps/api',
  'monitoring',
  'deploy/kubernetes',
  'viewer',
  'scripts',
  'bench',
];
/**
 * Where a folder's runnable tests are: compiled ones under dist/tests; plain JS (scripts/) as
 * written; bench/'s unit tests from its small project (bench/tsconfig.unit.json).
 */
const TEST_DIRS = /** @type {Record<string, string>} */ ({ scripts: 'tests', bench: 'dist/unit/tests' });
const testDir = (/** @type {string} */ workspace) => join(root, workspace, TEST_DIRS[workspace] ?? join('dist', 'tests'));

/** @param {string} dir @returns {string[]} */
function testFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return /\.test\.m?js$/.test(entry.name) ? [path] : [];
  });
}

const args = process.argv.slice(2);
const selectedWorkspaces = WORKSPACES.filter((w) => args.length === 0 || args.includes(w) || !args.some((a) => WORKSPACES.includes(a)));
const nameFilters = args.filter((a) => !WORKSPACES.includes(a));
const files = selectedWorkspaces
  .flatMap((w) => testFiles(testDir(w)))
  .filter((f) => nameFilters.length === 0 || nameFilters.some((n) => relative(root, f).includes(n)))
  .sort();

if (files.length === 0) {
  console.error('no test files found: run `tsc -b` first');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
