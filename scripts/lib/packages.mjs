// @ts-check
// Other workspaces as a user's tool would reach them: through their package.json (bin, exports),
// never through a path inside their build output.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/**
 * The file a package's bin runs (run it with process.execPath: a workspace's bin target is only
 * built after `npm install` linked it, so it may lack the executable bit).
 * @param {string} pkg @param {string} bin
 */
export function binPath(pkg, bin) {
  const manifestFile = require.resolve(`${pkg}/package.json`);
  /** @type {{ bin?: string | Record<string, string> }} */
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
  const target = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.[bin];
  if (!target) throw new Error(`${pkg} declares no bin ${bin}`);
  return join(dirname(manifestFile), target);
}

/** Whether a package's bin target exists, that is whether the workspace is built. @param {string} pkg @param {string} bin */
export function binBuilt(pkg, bin) {
  return existsSync(binPath(pkg, bin));
}
