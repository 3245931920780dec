import { join } from 'node:path';
import { GRAFANA_DIR, MONITORING_DIR, PROMETHEUS_DIR, REPO_ROOT, RULES_DIR } from '../../runtime/paths.js';

/** The runtime paths (shared with scripts/stack.mjs), and those only the tests read. */
export * from '../../runtime/paths.js';

export const RULE_TESTS_DIR = join(PROMETHEUS_DIR, 'tests');
export const RUNBOOK_INDEX = join(RULES_DIR, 'RUNBOOK-INDEX.md');
export const GRAFANA_SOURCE_DIR = join(GRAFANA_DIR, 'src');
/** The mixin's config and the generators of rules, routing and runbook index. */
export const MIXIN_SOURCE_DIR = join(MONITORING_DIR, 'src');
export const DOCKERFILE = join(REPO_ROOT, 'Dockerfile');

/** The committed Perses dashboards (generated with the Grafana ones by `npm run monitoring:generate`). */
export const PERSES_DASHBOARDS_DIR = join(MONITORING_DIR, 'perses', 'dashboards');
