import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DASHBOARDS_DIR, RULE_FILES } from '../../src/paths.js';

/**
 * What the rendered manifests must carry, read straight from monitoring/ (not through the
 * generator, so that a generator bug cannot hide itself).
 */
export function expectedRuleGroups(): Map<string, unknown[]> {
  const groups = (path: string) => (parse(readFileSync(path, 'utf8')) as { groups: unknown[] }).groups;
  return new Map([
    ['api-recording-rules', groups(RULE_FILES.recording)],
    ['api-alerts', groups(RULE_FILES.alerts)],
  ]);
}

export function expectedDashboards(): Map<string, string> {
  return new Map(
    readdirSync(DASHBOARDS_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => [f, readFileSync(join(DASHBOARDS_DIR, f), 'utf8')]),
  );
}
