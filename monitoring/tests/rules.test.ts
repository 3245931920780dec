import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HTTP_DURATION_BUCKETS } from '@obsnest/observability';
import {
  ALERT_THRESHOLDS,
  BURN_RATE_CONDITIONS,
  errorBudget,
  LATENCY_SLO,
  LATENCY_SLO_THRESHOLD_SECONDS,
  SLOS,
  WATCHDOG_ALERT,
} from '../grafana/src/objectives.js';
import { recordingRuleNames } from '../grafana/src/recording-rules.js';
import { RULE_TESTS_DIR, RULES_DIR, RUNBOOK_INDEX } from './support/paths.js';
import { metricNames, unknownMetricNames } from './support/promql.js';
import { alertExpectations, alertRules, recordingRules, RUNBOOK_BASE_URL, readYaml, ruleFiles, ruleTestFiles } from './support/rules.js';
import { output, run } from './support/run.js';
import { withTempDir } from './support/temp.js';

const SEVERITIES = ['critical', 'warning', 'info'];

describe('rule files', () => {
  it('pass promtool check rules', async () => {
    const result = await run('promtool', ['check', 'rules', ...ruleFiles()]);
    assert.equal(result.code, 0, output(result));
  });

  it('pass their promtool unit tests', async () => {
    const result = await run('promtool', ['test', 'rules', ...ruleTestFiles()], { cwd: RULE_TESTS_DIR });
    assert.equal(result.code, 0, output(result));
  });

  it('fail a promtool unit test whose expectation is wrong', async () => {
    // Proves the harness can fail: one expected annotation changed in a copy of a test file.
    await withTempDir('rule-test', async (dir) => {
      const source = readFileSync(join(RULE_TESTS_DIR, 'alerts-api.yml'), 'utf8');
      const mutated = source.replaceAll('../rules/', `${RULES_DIR}/`).replace('p95 latency is 750ms', 'p95 latency is 700ms');
      assert.notEqual(mutated, source);
      await writeFile(join(dir, 'mutated.yml'), mutated);
      const result = await run('promtool', ['test', 'rules', join(dir, 'mutated.yml')]);
      assert.notEqual(result.code, 0, output(result));
      assert.match(result.stdout + result.stderr, /FAILED/);
    });
  });
});

describe('alert rules', () => {
  const alerts = alertRules();

  it('exist', () => {
    assert.ok(alerts.length >= 20, `only ${alerts.length} alert rules`);
  });

  it('each have a for duration, a severity, a summary, a description and a runbook URL', () => {
    for (const rule of alerts) {
      const where = `${rule.alert} (${rule.labels?.severity})`;
      assert.match(rule.for ?? '', /^[1-9]\d*[smh]$/, `${where}: for must be set and non-zero`);
      assert.ok(SEVERITIES.includes(rule.labels?.severity ?? ''), `${where}: severity must be one of ${SEVERITIES}`);
      assert.ok(rule.annotations?.summary?.trim(), `${where}: summary`);
      assert.ok(rule.annotations?.description?.trim(), `${where}: description`);
      assert.equal(rule.annotations?.runbook_url, `${RUNBOOK_BASE_URL}${rule.alert.toLowerCase()}`, `${where}: runbook_url`);
    }
  });

  it('describe the firing series with its labels or value', () => {
    // The Watchdog's expression is `vector(1)`: it has neither labels nor a meaningful value.
    for (const rule of alerts.filter((alert) => alert.alert !== WATCHDOG_ALERT)) {
      assert.match(rule.annotations?.description ?? '', /\$labels\.|\$value/, `${rule.alert}: description`);
      assert.match(rule.annotations?.summary ?? '', /\$labels\.|\$value/, `${rule.alert}: summary`);
    }
  });

  it('use each name for at most one rule per severity', () => {
    const keys = alerts.map((rule) => `${rule.alert}/${rule.labels?.severity}`);
    assert.deepEqual(keys, [...new Set(keys)]);
  });

  it('are all listed, with their anchor, in RUNBOOK-INDEX.md, which lists no other alert', () => {
    const index = readFileSync(RUNBOOK_INDEX, 'utf8');
    const rows = [...index.matchAll(/^\| (\w+) \| [^|]+ \| `#([a-z0-9]+)` \|/gm)].map(([, name, anchor]) => ({ name, anchor }));
    const names = [...new Set(alerts.map((rule) => rule.alert))].sort();
    assert.deepEqual(rows.map((row) => row.name).sort(), names);
    for (const row of rows) assert.equal(row.anchor, row.name?.toLowerCase(), `anchor of ${row.name}`);
  });

  it('each fire in a unit test at every severity, and stay silent in another', () => {
    const expectations = alertExpectations();
    for (const rule of alerts) {
      const severity = rule.labels?.severity;
      const fires = expectations.some(
        (expectation) =>
          expectation.alertname === rule.alert && expectation.firing.some((alert) => alert.exp_labels?.severity === severity),
      );
      assert.ok(fires, `no test where ${rule.alert} fires at severity ${severity}`);
      const silent = expectations.some((expectation) => expectation.alertname === rule.alert && expectation.firing.length === 0);
      assert.ok(silent, `no test where ${rule.alert} must stay silent`);
    }
  });

  it('read only metrics of the contract, the exporters or the recording rules', () => {
    for (const rule of [...alerts, ...recordingRules()]) {
      const name = 'alert' in rule ? rule.alert : rule.record;
      assert.deepEqual(unknownMetricNames(metricNames(rule.expr)), [], `${name} reads unknown metrics`);
    }
  });

  it('compare against the thresholds the dashboards draw', () => {
    for (const [key, threshold] of Object.entries(ALERT_THRESHOLDS)) {
      const rule = alerts.find((alert) => alert.alert === threshold.alert && alert.labels?.severity === threshold.severity);
      assert.ok(rule, `${key}: no ${threshold.severity} rule ${threshold.alert}`);
      const compared = [...rule.expr.matchAll(/[<>]=?\s*(\d+(?:\.\d+)?)/g)].map((match) => Number(match[1]));
      assert.ok(compared.includes(threshold.value), `${key}: ${threshold.alert} does not compare with ${threshold.value}: ${rule.expr}`);
    }
  });

  it('implement every burn-rate condition of both SLOs with the right error budget', () => {
    for (const slo of SLOS) {
      const budget = errorBudget(slo);
      for (const condition of BURN_RATE_CONDITIONS) {
        const rule = alerts.find((alert) => alert.alert === slo.burnRateAlert && alert.labels?.severity === condition.severity);
        assert.ok(rule, `no ${condition.severity} ${slo.burnRateAlert}`);
        for (const window of [condition.longWindow, condition.shortWindow]) {
          const clause = `${slo.badRatio(window)} / ${budget} > ${condition.burnRate}`;
          assert.ok(rule.expr.includes(clause), `${slo.burnRateAlert} (${condition.severity}) lacks "${clause}"`);
        }
      }
    }
  });

  it('include the always-firing Watchdog', () => {
    const watchdog = alerts.find((rule) => rule.alert === WATCHDOG_ALERT);
    assert.equal(watchdog?.expr.trim(), 'vector(1)');
  });
});

describe('recording rules', () => {
  const rules = recordingRules();

  it('are exactly the ones monitoring/grafana/src/recording-rules.ts names', () => {
    assert.deepEqual(rules.map((rule) => rule.record).sort(), recordingRuleNames().sort());
  });

  it('follow the level:metric:operations naming convention, once each', () => {
    for (const rule of rules) assert.match(rule.record, /^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/, rule.record);
    const names = rules.map((rule) => rule.record);
    assert.deepEqual(names, [...new Set(names)]);
  });

  it('measure the latency SLO at a bucket bound of the HTTP histogram', () => {
    assert.ok(HTTP_DURATION_BUCKETS.includes(LATENCY_SLO_THRESHOLD_SECONDS as never));
    assert.ok(HTTP_DURATION_BUCKETS.includes(ALERT_THRESHOLDS.latencyP95Seconds.value as never));
    const slow = rules.filter((rule) => rule.record.startsWith(LATENCY_SLO.badRatio('5m').replace(/5m$/, '')));
    assert.ok(slow.length > 0);
    for (const rule of slow) assert.ok(rule.expr.includes(`le="${LATENCY_SLO_THRESHOLD_SECONDS}"`), rule.record);
  });

  it('have unit tests', () => {
    const tested = readYaml<{ rule_files: string[] }>(join(RULE_TESTS_DIR, 'recording.yml')).rule_files;
    assert.deepEqual(tested, ['../rules/recording.yml']);
  });
});
