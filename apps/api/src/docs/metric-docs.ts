import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { METRICS, type MetricContract, metricTableMarkdown, metricUnion, replaceMarkedSection } from '@obsnest/observability';
import { API_METRICS } from '../metrics.js';

/** The repository root, from this module's compiled place (apps/api/dist/src/docs). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));

export const METRIC_TABLE_MARKER = 'metric-table';

export interface MetricDoc {
  /** Path from the repository root. */
  readonly file: string;
  /** The contracts whose union the table lists. */
  readonly contracts: readonly MetricContract[];
}

/** The package README documents the library's families; MONITORING.md everything this API serves. */
export const METRIC_DOCS: readonly MetricDoc[] = [
  { file: 'packages/observability/README.md', contracts: [METRICS] },
  { file: 'MONITORING.md', contracts: [METRICS, API_METRICS] },
];

/** `doc` with its metric table regenerated from `contracts`. */
export function withMetricTable(doc: string, contracts: readonly MetricContract[]): string {
  return replaceMarkedSection(doc, METRIC_TABLE_MARKER, metricTableMarkdown(metricUnion(...contracts)));
}

/** Each document as committed and as the generator would write it. */
export function metricDocs(root = REPO_ROOT): { file: string; committed: string; generated: string }[] {
  return METRIC_DOCS.map(({ file, contracts }) => {
    const committed = readFileSync(join(root, file), 'utf8');
    return { file, committed, generated: withMetricTable(committed, contracts) };
  });
}
