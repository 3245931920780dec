// @ts-check
// What the native stack needs from the machine: the Debian packages of the monitoring services,
// and, to prefer docker compose, a reachable Docker engine.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Whether an executable of that name is on PATH. */
export function onPath(/** @type {string} */ binary) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return true;
    } catch {
      // next directory
    }
  }
  return false;
}

/**
 * Installs the Debian packages of missing binaries through scripts/install-system-deps.sh (the
 * project's one list of system packages, shared with CI: apt-get update, then install, then stop
 * the daemons Debian may have started on the default ports). Never throws: without root, apt-get
 * or network, it says what to install by hand and lets the caller decide what to skip.
 * @param {string} root
 * @param {{ binary: string, pkg: string }[]} needed
 * @param {(line: string) => void} say
 * @returns {string[]} the binaries still missing afterwards
 */
export function installMissing(root, needed, say) {
  const missing = () => needed.filter((n) => !onPath(n.binary));
  const before = missing();
  if (before.length === 0) return [];
  const packages = [...new Set(before.map((n) => n.pkg))].join(' ');
  say(`missing: ${before.map((n) => n.binary).join(', ')} (Debian packages: ${packages})`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    say(`not root, so not installing them: run \`sudo apt-get install ${packages}\` (or sudo bash scripts/install-system-deps.sh)`);
  } else if (!onPath('apt-get')) {
    say(`no apt-get on this machine: install ${packages} (Prometheus and exporters from prometheus.io/download) and put them on PATH`);
  } else {
    say('installing them with apt-get (apt-get update first)…');
    const result = spawnSync('bash', [join(root, 'scripts/install-system-deps.sh')], { stdio: 'inherit', timeout: 15 * 60_000 });
    if (result.status !== 0) {
      say(`installation failed (offline, or a package is unavailable): install ${packages} by hand`);
    }
  }
  return missing().map((n) => n.binary);
}

/** A Docker engine that answers within a few seconds (the CLI alone is not enough). */
export function dockerEngineReachable() {
  if (!onPath('docker')) return false;
  const result = spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 5000 });
  return result.status === 0;
}

/** `docker compose` (plugin) or `docker-compose` (standalone), whichever works. @returns {string[] | undefined} */
export function composeCommand() {
  if (onPath('docker') && spawnSync('docker', ['compose', 'version'], { stdio: 'ignore', timeout: 10_000 }).status === 0) {
    return ['docker', 'compose'];
  }
  if (onPath('docker-compose') && spawnSync('docker-compose', ['version'], { stdio: 'ignore', timeout: 10_000 }).status === 0) {
    return ['docker-compose'];
  }
  return undefined;
}
