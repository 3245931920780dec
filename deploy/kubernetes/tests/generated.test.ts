import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dashboardConfigMap } from '../src/dashboard-config-maps.js';
import { staleFiles } from '../src/generated-files.js';
import { type PrometheusRuleGroup, prometheusRule } from '@obsnest/monitoring/prometheus-rule';

describe('generated manifests', () => {
  it('are up to date with monitoring/ (else: npm run generate -w @obsnest/kubernetes)', () => {
    assert.deepEqual(staleFiles(), []);
  });
});

const group = (name: string): PrometheusRuleGroup => ({
  name,
  rules: [{ record: `job:${name}:rate5m`, expr: 'sum by (job) (rate(x_total[5m]))' }],
});

describe('prometheusRule()', () => {
  it('wraps the groups unchanged, with the name, namespace and labels given', () => {
    const groups = [group('http'), { ...group('queue'), interval: '30s' }];
    const rule = prometheusRule(groups, { name: 'api-rules', namespace: 'obsnest', labels: { release: 'kps' } });
    assert.deepEqual(rule, {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: 'api-rules', namespace: 'obsnest', labels: { release: 'kps' } },
      spec: { groups },
    });
    assert.notEqual(rule.spec.groups[0], groups[0], 'a copy, so that later edits of either do not leak into the other');
  });

  it('leaves the namespace out when none is given, for kustomize to set', () => {
    assert.deepEqual(prometheusRule([group('http')], { name: 'r' }).metadata, { name: 'r' });
  });

  it('refuses two groups of one name, which Prometheus would reject in one rule file', () => {
    assert.throws(() => prometheusRule([group('queue'), group('queue')], { name: 'r' }), /rule group "queue" appears twice/);
  });

  it('refuses an empty list and an empty group', () => {
    assert.throws(() => prometheusRule([], { name: 'r' }), /no rule groups/);
    assert.throws(() => prometheusRule([{ name: 'g', rules: [] }], { name: 'r' }), /"g" has no rules/);
  });
});

describe('dashboardConfigMap()', () => {
  it('labels the ConfigMap for the Grafana sidecar and keeps the JSON text as it is', () => {
    const json = '{\n  "title": "X"\n}\n';
    const map = dashboardConfigMap({ name: 'x', file: 'x.json', json, labels: { a: 'b' }, folder: 'f' });
    assert.deepEqual(map, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'grafana-dashboard-x', labels: { a: 'b', grafana_dashboard: '1' }, annotations: { grafana_folder: 'f' } },
      data: { 'x.json': json },
    });
  });

  it('refuses text that is not JSON', () => {
    assert.throws(() => dashboardConfigMap({ name: 'x', file: 'x.json', json: '{ nope' }), SyntaxError);
  });
});
