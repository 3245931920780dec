import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { generatedFiles, staleFiles } from './generated-files.js';
import { REPO_ROOT } from './paths.js';

/**
 * Writes the generated manifests of the base (PrometheusRules from the rule files, dashboard
 * ConfigMaps from the dashboards' JSON), or with `--check` exits 1 when a committed one is stale:
 *
 *   node deploy/kubernetes/dist/src/generate.js [--check]
 */

function main(args: readonly string[]): number {
  if (args.includes('--check')) {
    const stale = staleFiles();
    if (stale.length === 0) return 0;
    process.stderr.write(`out of date: ${stale.join(', ')}\nrun: npm run generate -w @obsnest/kubernetes\n`);
    return 1;
  }
  for (const [path, content] of generatedFiles()) {
    writeFileSync(path, content);
    process.stdout.write(`wrote ${relative(REPO_ROOT, path)}\n`);
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
