// @ts-check
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const isRoot = process.getuid?.() === 0;

/**
 * The two scripts under test, copied to a folder every user can read: the clone these tests run in
 * may sit in a private directory (mktemp's 0700) that the unprivileged user cannot enter.
 */
const root = mkdtempSync(join(tmpdir(), 'obsnest-setup-'));
chmodSync(root, 0o755);
mkdirSync(join(root, 'scripts'), { mode: 0o755 });
for (const file of ['scripts/install-system-deps.sh', 'scripts/ensure-deps.mjs']) {
  copyFileSync(join(repo, file), join(root, file));
  chmodSync(join(root, file), 0o644);
}
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
const which = (/** @type {string} */ tool) => spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();

/**
 * Runs a command as an unprivileged user (nobody, when these tests run as root), so the
 * "not root" path is the one taken and nothing is ever installed.
 * @param {string[]} argv @param {NodeJS.ProcessEnv} env
 */
function unprivileged(argv, env) {
  const [command, ...args] = isRoot ? [which('runuser'), '-u', 'nobody', '--', ...argv] : argv;
  return spawnSync(/** @type {string} */ (command), args, { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
}

/** A PATH holding only what the install script needs to run, not the packages it checks for. */
function barePath() {
  const dir = mkdtempSync(join(tmpdir(), 'obsnest-path-'));
  chmodSync(dir, 0o755);
  for (const tool of ['bash', 'id', 'apt-get', 'node']) {
    const found = which(tool);
    if (found) symlinkSync(found, join(dir, tool));
  }
  return dir;
}

describe('the newcomer path: system packages', () => {
  it('on this machine everything is present, so `npm test` goes on', () => {
    const result = unprivileged(['bash', 'scripts/install-system-deps.sh'], { PATH: process.env.PATH });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /system packages present/);
  });

  it('without root, a missing package stops `npm test` at once with the exact command to run', () => {
    const path = barePath();
    try {
      const script = unprivileged(['bash', 'scripts/install-system-deps.sh'], { PATH: path });
      assert.equal(script.status, 1, script.stdout + script.stderr);
      assert.match(script.stderr, /missing Debian packages: prometheus prometheus-alertmanager .*chromium haproxy/);
      assert.match(script.stderr, /run: sudo bash scripts\/install-system-deps\.sh/);
      const ensure = unprivileged([process.execPath, 'scripts/ensure-deps.mjs', '--system'], { PATH: path });
      assert.equal(ensure.status, 1, ensure.stdout + ensure.stderr);
      assert.match(ensure.stderr, /run: sudo bash scripts\/install-system-deps\.sh/);
      assert.match(ensure.stderr, /\[setup\] the tests need the system packages above; nothing was run/);
      assert.doesNotMatch(ensure.stderr, /installing npm dependencies/, 'stopped before anything else');
    } finally {
      rmSync(path, { recursive: true, force: true });
    }
  });
});
