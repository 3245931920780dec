import { pathToFileURL } from 'node:url';
import { MONITORING_DIR } from '../../runtime/paths.js';
import { checkFiles, describeDrift, generateFiles, isUpToDate, writeFiles } from '../generate.js';
import { API_CONFIG } from './api.js';

/**
 * Regenerates this repository's committed monitoring files (job `api`) under monitoring/, or with
 * `--check` reports the files that differ (exit code 1), for CI:
 *
 *   npm run monitoring:generate      (writes, then regenerates deploy/kubernetes' copies)
 *   node monitoring/dist/src/repo/generate.js --check
 */

export const repoFiles = (): Map<string, string> => generateFiles(API_CONFIG);

export const checkRepoFiles = (dir: string = MONITORING_DIR) => checkFiles(dir, repoFiles());

function main(args: readonly string[]): number {
  if (!args.includes('--check')) {
    for (const file of writeFiles(MONITORING_DIR, repoFiles())) console.log(`wrote monitoring/${file}`);
    return 0;
  }
  const report = checkRepoFiles();
  if (isUpToDate(report)) {
    console.log('monitoring/ is up to date with its generator');
    return 0;
  }
  for (const line of describeDrift(report)) console.error(line);
  console.error('run `npm run monitoring:generate` and commit the result');
  return 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
