import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { metricDocs, REPO_ROOT } from './metric-docs.js';

// `npm run docs`: rewrites the metric tables of MONITORING.md and packages/observability/README.md
// from the contracts; a test fails while a committed table differs from this output.
for (const { file, committed, generated } of metricDocs()) {
  if (generated === committed) {
    console.log(`${file}: up to date`);
  } else {
    writeFileSync(join(REPO_ROOT, file), generated);
    console.log(`${file}: metric table rewritten`);
  }
}
