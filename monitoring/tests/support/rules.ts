import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_CONFIG } from '../../src/config.js';
import { RULE_TESTS_DIR, RULES_DIR } from './paths.js';

/** Typed views of the rule files and of the promtool test files, for structural checks. */

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

interface RuleFile {
  groups: { name: string; interval?: string; rules: (AlertRule | RecordingRule)[] }[];
}

/** The committed rules' runbook base (this repository's MONITORING.md). */
export const RUNBOOK_BASE_URL = DEFAULT_CONFIG.runbookBaseUrl;

export function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.yml'))
    .sort()
    .map((name) => join(dir, name));
}

export function readYaml<T>(path: string): T {
  return parse(readFileSync(path, 'utf8')) as T;
}

export const ruleFiles = (): string[] => yamlFiles(RULES_DIR);
export const ruleTestFiles = (): string[] => yamlFiles(RULE_TESTS_DIR);

function allRules(): (AlertRule | RecordingRule)[] {
  return ruleFiles().flatMap((file) => readYaml<RuleFile>(file).groups.flatMap((group) => group.rules));
}

export function alertRules(): AlertRule[] {
  return allRules().filter((rule): rule is AlertRule => 'alert' in rule);
}

export function recordingRules(): RecordingRule[] {
  return allRules().filter((rule): rule is RecordingRule => 'record' in rule);
}

/** One alert expectation of a promtool test: `exp_alerts` empty means "must not fire". */
export interface AlertExpectation {
  readonly alertname: string;
  readonly evalTime: string;
  readonly firing: readonly { exp_labels?: Record<string, string> }[];
}

interface RuleTestFile {
  tests: {
    name?: string;
    alert_rule_test?: { alertname: string; eval_time: string; exp_alerts?: { exp_labels?: Record<string, string> }[] }[];
  }[];
}

export function alertExpectations(): AlertExpectation[] {
  return ruleTestFiles().flatMap((file) =>
    readYaml<RuleTestFile>(file).tests.flatMap((test) =>
      (test.alert_rule_test ?? []).map((case_) => ({
        alertname: case_.alertname,
        evalTime: case_.eval_time,
        firing: case_.exp_alerts ?? [],
      })),
    ),
  );
}
