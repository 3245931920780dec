import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineMetric, defineMetrics, METRICS } from '@obsnest/observability';
import { METRIC_DOCS, metricDocs, withMetricTable } from '../src/docs/metric-docs.js';
import { API_METRICS } from '../src/metrics.js';

/** The first line where two texts differ, or undefined: a failure names one line, not two whole documents. */
function firstDifference(actual: string, expected: string): string | undefined {
  const a = actual.split('\n');
  const e = expected.split('\n');
  for (let i = 0; i < Math.max(a.length, e.length); i++) {
    if (a[i] !== e[i]) return `line ${i + 1}: committed ${JSON.stringify(a[i])}, generated ${JSON.stringify(e[i])}`;
  }
  return undefined;
}

describe('metric tables in the docs', () => {
  for (const { file, committed, generated } of metricDocs()) {
    it(`${file} holds the table generated from its contracts (else: npm run docs)`, () => {
      assert.equal(firstDifference(committed, generated), undefined, `${file} differs from the generated table: run \`npm run docs\``);
    });
  }

  it('lists every metric of the union in MONITORING.md, and only the library ones in the package README', () => {
    const [readme, monitoring] = metricDocs();
    for (const def of Object.values(METRICS)) {
      assert.ok(readme.committed.includes(`| \`${def.name}\` `), `${def.name} in the README`);
      assert.ok(monitoring.committed.includes(`| \`${def.name}\` `), `${def.name} in MONITORING.md`);
    }
    for (const def of Object.values(API_METRICS)) {
      assert.ok(monitoring.committed.includes(`| \`${def.name}\` `), `${def.name} in MONITORING.md`);
      assert.ok(!readme.committed.includes(`\`${def.name}\``), `${def.name} is the API's, not the library's`);
    }
  });

  it('can fail: a hand edit of a committed table, or a contract change not regenerated, is a difference', () => {
    const monitoring = metricDocs().find((d) => d.file === 'MONITORING.md');
    assert.ok(monitoring);
    const contracts = METRIC_DOCS.find((d) => d.file === 'MONITORING.md')?.contracts ?? [];
    const handEdited = monitoring.committed.replace('| `queue_jobs` ', '| `queue_jobz` ');
    assert.notEqual(handEdited, monitoring.committed);
    assert.match(firstDifference(handEdited, withMetricTable(handEdited, contracts)) ?? '', /committed "\| `queue_jobz` /);
    const grown = defineMetrics({ x: defineMetric({ name: 'x_total', type: 'counter', help: 'X.', labelNames: [] }) });
    assert.notEqual(withMetricTable(monitoring.committed, [...contracts, grown]), monitoring.committed);
    assert.throws(() => withMetricTable('# no markers\n', contracts), /no <!-- metric-table:begin -->/);
  });
});
