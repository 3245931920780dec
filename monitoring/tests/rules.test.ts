import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HTTP_DURATION_BUCKETS } from '@obsnest/observability';
import { defineConfig, runbookUrl } from '../src/config.js';
import { generateFiles, OUTPUT_PATHS, writeFiles } from '../src/generate.js';
import { API_CONFIG } from '../src/repo/api.js';
import { WATCHDOG_ALERT } from '../grafana/src/objectives.js';
import { RULE_TESTS_DIR, RULES_DIR, RUNBOOK_INDEX } from './support/paths.js';
import { metricNames, recordingRuleNames, unknownMetricNames } from './support/promql.js';
import {
  type AlertRule,
  alertExpectations,
  alertRules,
  type RecordingRule,
  recordingRules,
  RUNBOOK_BASE_URL,
  readYaml,
  ruleFiles,
  ruleTestFiles,
} from './support/rules.js';
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

  it('are the 27 of the mixin and the outbox', () => {
    assert.equal(alerts.length, 27);
    assert.ok(alerts.some((rule) => rule.alert === 'OutboxRelayStalled'));
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

  it('are all listed, with their runbook URL, in RUNBOOK-INDEX.md, which lists no other alert', () => {
    const index = readFileSync(RUNBOOK_INDEX, 'utf8');
    const rows = [...index.matchAll(/^\| (\w+) \| [^|]+ \| (\S+) \|/gm)].map(([, name, url]) => ({ name, url }));
    const names = [...new Set(alerts.map((rule) => rule.alert))];
    assert.deepEqual(rows.map((row) => row.name).slice(1), names);
    for (const row of rows.slice(1)) assert.equal(row.url, runbookUrl(RUNBOOK_BASE_URL, row.name as string), `URL of ${row.name}`);
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

  it('include the always-firing Watchdog', () => {
    const watchdog = alerts.find((rule) => rule.alert === WATCHDOG_ALERT);
    assert.equal(watchdog?.expr.trim(), 'vector(1)');
  });
});

describe('recording rules', () => {
  const rules = recordingRules();

  it('are the ones the generator writes, and the ones dashboards and tests know', () => {
    assert.deepEqual(rules.map((rule) => rule.record).sort(), recordingRuleNames().sort());
  });

  it('follow the level:metric:operations naming convention, once each', () => {
    for (const rule of rules) assert.match(rule.record, /^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/, rule.record);
    const names = rules.map((rule) => rule.record);
    assert.deepEqual(names, [...new Set(names)]);
  });

  it('measure the latency SLO at a bucket bound of the HTTP histogram', () => {
    const { latency } = API_CONFIG.objectives;
    assert.ok(HTTP_DURATION_BUCKETS.includes(latency.thresholdSeconds as never));
    assert.ok(HTTP_DURATION_BUCKETS.includes(API_CONFIG.thresholds.latencyP95Seconds as never));
    const slow = rules.filter((rule) => rule.record.startsWith('job:slo_slow_requests_per_request:'));
    assert.equal(slow.length, 8);
    for (const rule of slow) assert.ok(rule.expr.includes(`le="${latency.thresholdSeconds}"`), rule.record);
  });

  it('have unit tests', () => {
    const tested = readYaml<{ rule_files: string[] }>(join(RULE_TESTS_DIR, 'recording.yml')).rule_files;
    assert.deepEqual(tested, ['../rules/recording.yml']);
  });
});

interface RuleFileContent {
  groups: { name: string; rules: (AlertRule | RecordingRule)[] }[];
}

/** The rules generated for `config`, parsed, and the directory they were written to. */
async function generatedRules<T>(
  input: Parameters<typeof defineConfig>[0],
  use: (rules: { alerts: AlertRule[]; recording: RecordingRule[]; dir: string }) => Promise<T>,
) {
  return withTempDir('mixin-rules', async (dir) => {
    writeFiles(dir, generateFiles(defineConfig(input)));
    const read = (path: string) => readYaml<RuleFileContent>(join(dir, path)).groups.flatMap((group) => group.rules);
    const alerts = read(OUTPUT_PATHS.alertRules) as AlertRule[];
    const recording = read(OUTPUT_PATHS.recordingRules) as RecordingRule[];
    return use({ alerts, recording, dir });
  });
}

/** Alerts on the exporters and the monitoring stack: they select their own jobs, or all. */
const INFRASTRUCTURE_ALERTS = new Set([
  'PostgresDown',
  'RedisDown',
  'HostDiskSpaceLow',
  'HostMemoryLow',
  'TargetDown',
  'PrometheusRuleEvaluationFailures',
  'PrometheusNotificationsFailing',
  'AlertmanagerNotificationsFailing',
  'Watchdog',
]);

const promtoolCheck = (dir: string) =>
  run('promtool', ['check', 'rules', join(dir, OUTPUT_PATHS.recordingRules), join(dir, OUTPUT_PATHS.alertRules)]);

describe('rule generator', () => {
  it('scopes every application series to the configured job, and names no other application job', async () => {
    await generatedRules({ job: 'payments', runbookBaseUrl: 'https://runbooks.example.com/x' }, async ({ alerts, recording, dir }) => {
      const result = await promtoolCheck(dir);
      assert.equal(result.code, 0, output(result));
      for (const rule of [...recording, ...alerts]) {
        const name = 'alert' in rule ? rule.alert : rule.record;
        assert.doesNotMatch(rule.expr, /\bapi\b/, name);
        if ('alert' in rule && INFRASTRUCTURE_ALERTS.has(rule.alert)) continue;
        const selectors = [...rule.expr.matchAll(/([a-zA-Z_:][\w:]*)\{([^}]*)\}/g)];
        const bare = metricNames(rule.expr).filter((metric) => !selectors.some(([, selected]) => selected === metric));
        assert.deepEqual(bare, [], `${name} reads series of every job: ${rule.expr}`);
        for (const [, metric, matchers] of selectors) assert.ok(matchers?.includes('job="payments"'), `${name}: ${metric}{${matchers}}`);
      }
      for (const rule of alerts) assert.ok(rule.annotations?.runbook_url?.startsWith('https://runbooks.example.com/x#'), rule.alert);
      assert.ok(alerts.some((rule) => rule.alert === 'TargetDown' && rule.expr.includes('job!~"payments|postgres|redis"')));
    });
  });

  it('compares with the thresholds, objectives and burn rates of the config', async () => {
    const input = {
      objectives: {
        availability: { objective: 0.995 },
        latency: { objective: 0.9, thresholdSeconds: 0.25 },
        burnRates: [
          { longWindow: '2h', shortWindow: '10m', burnRate: 10, severity: 'critical' },
          { longWindow: '2d', shortWindow: '4h', burnRate: 2, severity: 'warning' },
        ],
      },
      thresholds: { errorRatio: 0.07, heapUsedRatio: { critical: 0.9 } },
    } as const;
    await generatedRules(input, async ({ alerts, recording, dir }) => {
      const result = await promtoolCheck(dir);
      assert.equal(result.code, 0, output(result));
      const alert = (name: string, severity: string) => alerts.find((rule) => rule.alert === name && rule.labels?.severity === severity);
      assert.match(alert('ApiHighErrorRatio', 'warning')?.expr ?? '', /ratio_rate5m\{job="api"\} > 0\.07\n/);
      assert.match(alert('ApiHighErrorRatio', 'warning')?.annotations?.description ?? '', /threshold 7 %/);
      assert.match(alert('NodejsHeapNearLimit', 'critical')?.expr ?? '', /> 0\.9$/);
      assert.match(alert('NodejsHeapNearLimit', 'warning')?.expr ?? '', /> 0\.85$/);
      const fastBurn = alert('ApiErrorBudgetBurn', 'critical')?.expr ?? '';
      assert.match(fastBurn, /ratio_rate2h\{job="api"\} \/ 0\.005 > 10/);
      assert.match(fastBurn, /ratio_rate10m\{job="api"\} \/ 0\.005 > 10/);
      assert.match(alert('ApiLatencyBudgetBurn', 'warning')?.expr ?? '', /slow_requests_per_request:ratio_rate2d\{job="api"\} \/ 0\.1 > 2/);
      const records = new Map(recording.map((rule) => [rule.record, rule.expr]));
      for (const window of ['5m', '10m', '2h', '4h', '2d', '30d']) {
        assert.ok(records.get(`job:slo_slow_requests_per_request:ratio_rate${window}`)?.includes('le="0.25"'), window);
      }
      assert.equal(records.has('job:slo_errors_per_request:ratio_rate6h'), false, 'a window no condition reads');
    });
  });

  it('maps every alert to its runbook with one mapper', () => {
    assert.equal(runbookUrl('https://x.example.com/runbooks#', 'ApiTargetDown'), 'https://x.example.com/runbooks#apitargetdown');
    assert.equal(runbookUrl('https://x.example.com/runbooks/', 'Watchdog'), 'https://x.example.com/runbooks/watchdog');
    assert.equal(runbookUrl('https://x.example.com/runbook', 'Watchdog'), 'https://x.example.com/runbook#watchdog');
  });

  it('refuses an invalid config with every problem named', () => {
    assert.throws(
      () => defineConfig({ job: 'a"b', objectives: { availability: { objective: 1.5 }, period: '30 days' } }),
      (error: Error) => /job "a"b"/.test(error.message) && /availability\.objective/.test(error.message) && /"30 days"/.test(error.message),
    );
  });
});
