import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from '@obsnest/testkit';
import { stringify } from 'yaml';
import { BASE_DIR, KUBERNETES_DIR, OVERLAYS_DIR, REPO_ROOT } from '../src/paths.js';
import {
  dashboardProblems,
  deploymentProblems,
  namespaceProblems,
  networkPolicyProblems,
  prometheusRuleProblems,
  scalingProblems,
  secretNames,
  serviceMonitorProblems,
} from './support/checks.js';
import { type K8sObject, kustomize } from './support/render.js';
import { schemaProblems } from './support/schemas.js';
import { expectedDashboards, expectedRuleGroups } from './support/sources.js';

const exec = promisify(execFile);

/** Every check, over one rendering. */
function allProblems(objects: readonly K8sObject[]): string[] {
  return [
    ...objects.flatMap(schemaProblems),
    ...deploymentProblems(objects),
    ...scalingProblems(objects),
    ...networkPolicyProblems(objects),
    ...serviceMonitorProblems(objects),
    ...prometheusRuleProblems(objects, expectedRuleGroups()),
    ...dashboardProblems(objects, expectedDashboards()),
  ];
}

const KINDS = [
  'ConfigMap',
  'Deployment',
  'HorizontalPodAutoscaler',
  'NetworkPolicy',
  'PodDisruptionBudget',
  'PrometheusRule',
  'Service',
  'ServiceAccount',
  'ServiceMonitor',
];

const RENDERINGS = [
  { name: 'base', dir: BASE_DIR },
  { name: 'production overlay', dir: join(OVERLAYS_DIR, 'production') },
];

for (const { name, dir } of RENDERINGS) {
  describe(`kubectl kustomize: ${name}`, () => {
    let objects: K8sObject[];
    before(async () => {
      objects = await kustomize(dir);
    });

    it('renders every kind the API needs', () => {
      const kinds = new Set(objects.map((o) => o.kind));
      for (const kind of KINDS) assert.ok(kinds.has(kind), `${kind} missing from ${[...kinds].join(', ')}`);
    });

    it('validates every object against the Kubernetes and prometheus-operator schemas', () => {
      assert.deepEqual(objects.flatMap(schemaProblems), []);
    });

    it('runs the API non-root on a read-only root, with probes, resources and a grace period above the shutdown', () => {
      assert.deepEqual(deploymentProblems(objects), []);
    });

    it('scales with an autoscaling/v2 autoscaler and a disruption budget that lets drains proceed', () => {
      assert.deepEqual(scalingProblems(objects), []);
    });

    it('opens the metrics port to Prometheus pods only', () => {
      assert.deepEqual(networkPolicyProblems(objects), []);
    });

    it('scrapes the Service port that serves /metrics as job="api", with the API\'s token', () => {
      assert.deepEqual(serviceMonitorProblems(objects), []);
    });

    it('carries exactly the groups of recording.yml and alerts.yml in its PrometheusRules', () => {
      assert.deepEqual(prometheusRuleProblems(objects, expectedRuleGroups()), []);
    });

    it('ships every dashboard as a ConfigMap for the Grafana sidecar', () => {
      assert.deepEqual(dashboardProblems(objects, expectedDashboards()), []);
    });

    it('commits no Secret', () => {
      assert.deepEqual(
        objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name),
        [],
      );
    });
  });
}

describe('kubectl kustomize: production overlay only', () => {
  let objects: K8sObject[];
  before(async () => {
    objects = await kustomize(join(OVERLAYS_DIR, 'production'));
  });

  it('puts every object in the obsnest namespace, under the restricted Pod Security Standard', () => {
    assert.deepEqual(namespaceProblems(objects, 'obsnest'), []);
    const namespace = objects.find((o) => o.kind === 'Namespace');
    assert.equal(namespace?.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  it('documents how to create every Secret it references (DEPLOYMENT.md)', async () => {
    const doc = await readFile(join(REPO_ROOT, 'DEPLOYMENT.md'), 'utf8');
    const referenced = secretNames(objects);
    assert.deepEqual(referenced, ['api-env', 'api-metrics-token']);
    for (const name of referenced)
      assert.ok(doc.includes(`kubectl -n obsnest create secret generic ${name} `), `${name} missing from DEPLOYMENT.md`);
    assert.ok(doc.includes('kubectl apply -k deploy/kubernetes/overlays/production'));
  });

  it('renders PrometheusRules that promtool accepts as rule files', async () => {
    const dir = await tempDir('obsnest-k8s-rules-');
    try {
      const files: string[] = [];
      for (const rule of objects.filter((o) => o.kind === 'PrometheusRule')) {
        const file = join(dir.path, `${rule.metadata.name}.yml`);
        await writeFile(file, stringify(rule.spec));
        files.push(file);
      }
      assert.equal(files.length, 2);
      await exec('promtool', ['check', 'rules', ...files]);
    } finally {
      await dir.remove();
    }
  });

  it('labels the ServiceMonitor and PrometheusRules for the Prometheus that selects them', () => {
    for (const o of objects.filter((o) => o.kind === 'ServiceMonitor' || o.kind === 'PrometheusRule')) {
      assert.equal(o.metadata.labels?.release, 'kube-prometheus-stack', `${o.kind}/${o.metadata.name}`);
    }
  });
});

describe('the checks catch a broken manifest', () => {
  // Each case edits a copy of deploy/kubernetes, renders it with kustomize and expects the
  // problem named: the checks above can fail.
  const CASES = [
    {
      what: 'a grace period shorter than preStop + drain + timeout',
      file: 'base/deployment.yaml',
      from: 'terminationGracePeriodSeconds: 45',
      to: 'terminationGracePeriodSeconds: 25',
      expect: /terminationGracePeriodSeconds 25: must exceed preStop 5000 ms \+ drain 5000 ms \+ timeout 20000 ms/,
    },
    {
      what: 'a writable root filesystem',
      file: 'base/deployment.yaml',
      from: 'readOnlyRootFilesystem: true',
      to: 'readOnlyRootFilesystem: false',
      expect: /readOnlyRootFilesystem must be true/,
    },
    {
      what: 'a readiness probe on the public port',
      file: 'base/deployment.yaml',
      from: 'path: /health/ready\n              port: management',
      to: 'path: /health/ready\n              port: http',
      expect: /readinessProbe: probes port http, but \/health\/\* is served on MANAGEMENT_PORT 9464/,
    },
    {
      what: 'an autoscaler target that is not a number',
      file: 'base/horizontal-pod-autoscaler.yaml',
      from: 'averageUtilization: 70',
      to: 'averageUtilization: seventy',
      expect: /HorizontalPodAutoscaler\/api: .*averageUtilization must be integer/,
    },
    {
      what: 'a NetworkPolicy that opens the metrics port to everyone',
      file: 'base/network-policy.yaml',
      from: '    - from:\n',
      to: '    - ports:\n        - port: management\n    - from:\n',
      expect: /admits every source on the metrics port management/,
    },
    {
      what: 'a ServiceMonitor on a port the Service lacks',
      file: 'base/service-monitor.yaml',
      from: '- port: management',
      to: '- port: metrics',
      expect: /ServiceMonitor port metrics: no such port on Service\/api/,
    },
    {
      what: 'a PrometheusRule that drifted from the rule files',
      file: 'base/prometheus-rules.yaml',
      from: 'for: 1m',
      to: 'for: 2m',
      expect: /PrometheusRule\/api-alerts: groups differ from the rule file/,
    },
    {
      what: 'an image tagged latest',
      file: 'overlays/production/kustomization.yaml',
      from: 'newTag: 0.1.0',
      to: 'newTag: latest',
      expect: /pin it by tag or digest, not latest/,
    },
  ];

  for (const c of CASES) {
    it(`flags ${c.what}`, async () => {
      const dir = await tempDir('obsnest-k8s-');
      try {
        for (const part of ['base', 'overlays']) await cp(join(KUBERNETES_DIR, part), join(dir.path, part), { recursive: true });
        const path = join(dir.path, c.file);
        const source = await readFile(path, 'utf8');
        assert.ok(source.includes(c.from), `${c.file} no longer contains ${JSON.stringify(c.from)}: update this case`);
        await writeFile(path, source.replace(c.from, c.to));
        const problems = allProblems(await kustomize(join(dir.path, 'overlays', 'production')));
        assert.ok(
          problems.some((p) => c.expect.test(p)),
          `expected a problem matching ${c.expect}, got:\n${problems.join('\n') || '(none)'}`,
        );
      } finally {
        await dir.remove();
      }
    });
  }
});
