import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { API_METRICS } from '@obsnest/api/metrics';
import { METRICS, metricUnion } from '@obsnest/observability';
import { REPO_ROOT } from './support/paths.js';
import { alertRules, RUNBOOK_BASE_URL } from './support/rules.js';

const monitoringDoc = readFileSync(join(REPO_ROOT, 'MONITORING.md'), 'utf8');

/** GitHub's heading anchor: lower case, spaces to dashes, punctuation dropped. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');

describe('MONITORING.md', () => {
  it('has a runbook section for every alert, at the anchor its runbook_url names', () => {
    const anchors = new Set([...monitoringDoc.matchAll(/^#{2,4} (.+)$/gm)].map((m) => anchorOf(m[1])));
    for (const rule of alertRules()) {
      const url = String(rule.annotations?.runbook_url ?? '');
      assert.ok(url.startsWith(RUNBOOK_BASE_URL), `${rule.alert}: ${url}`);
      const anchor = url.slice(RUNBOOK_BASE_URL.length);
      assert.ok(anchors.has(anchor), `${rule.alert}: no heading with anchor #${anchor} in MONITORING.md`);
    }
  });

  it('describes every metric of the contract', () => {
    for (const def of metricUnion(METRICS, API_METRICS)) {
      assert.ok(monitoringDoc.includes(`\`${def.name}\``), `${def.name} missing from MONITORING.md`);
      for (const label of def.labelNames) assert.ok(monitoringDoc.includes(label), `${def.name}: label ${label} not documented`);
    }
  });
});
