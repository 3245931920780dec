import { isDeepStrictEqual } from 'node:util';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IContainerPort } from 'kubernetes-models/v1/ContainerPort';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { IService } from 'kubernetes-models/v1/Service';
import type { K8sObject } from './render.js';

/**
 * What the manifests must get right beyond their schemas, each check returning its problems
 * (empty when fine) so that a test can show a broken manifest being caught.
 */

/** The Prometheus pods' label, as the prometheus-operator sets it on every Prometheus it runs. */
export const PROMETHEUS_POD_LABEL = { 'app.kubernetes.io/name': 'prometheus' } as const;
/** The scrape job every rule and dashboard selects (`job="api"`). */
export const API_JOB = 'api';

const of = <T>(objects: readonly K8sObject[], kind: string) => objects.filter((o) => o.kind === kind) as unknown as T[];

const subsetOf = (wanted: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  wanted !== undefined && Object.keys(wanted).length > 0 && Object.entries(wanted).every(([k, v]) => labels?.[k] === v);

/** The one API Deployment and its `api` container, or the problem that there is none. */
export function apiDeployment(objects: readonly K8sObject[]): { deployment: IDeployment; container: IContainer } | string {
  const deployments = of<IDeployment>(objects, 'Deployment');
  if (deployments.length !== 1) return `expected one Deployment, found ${deployments.length}`;
  const deployment = deployments[0];
  const container = deployment.spec?.template.spec?.containers.find((c) => c.name === 'api');
  if (!container) return `Deployment/${deployment.metadata?.name}: no container named api`;
  return { deployment, container };
}

function podLabels(deployment: IDeployment): Record<string, string> | undefined {
  return deployment.spec?.template.metadata?.labels;
}

/** Literal env values of a container (`value:` only; those from Secrets are absent). */
export function envValues(container: IContainer): Map<string, string> {
  return new Map((container.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value] as const])));
}

/** The container port a probe, Service or policy port refers to, by name or number. */
function containerPort(container: IContainer, port: number | string | undefined): IContainerPort | undefined {
  return (container.ports ?? []).find((p) => (typeof port === 'string' ? p.name === port : p.containerPort === port));
}

/** Where /metrics and /health/* are served: the management port when MANAGEMENT_PORT is set. */
function servingPort(container: IContainer): { port: IContainerPort | undefined; description: string } {
  const env = envValues(container);
  const management = env.get('MANAGEMENT_PORT');
  const number = Number(management ?? env.get('PORT') ?? 3000);
  return {
    port: (container.ports ?? []).find((p) => p.containerPort === number),
    description: management === undefined ? `PORT ${number}` : `MANAGEMENT_PORT ${number}`,
  };
}

function probeProblems(container: IContainer, name: string, probe: IProbe | undefined, path: string): string[] {
  if (!probe) return [`${name}: missing`];
  if (probe.httpGet?.path !== path) return [`${name}: expected httpGet ${path}, found ${JSON.stringify(probe.httpGet ?? probe)}`];
  const { port, description } = servingPort(container);
  const target = containerPort(container, probe.httpGet.port);
  if (!port || target !== port) return [`${name}: probes port ${probe.httpGet.port}, but /health/* is served on ${description}`];
  return [];
}

/** Milliseconds the preStop hook keeps the container before SIGTERM: `sleep N` or the sleep action. */
function preStopMs(container: IContainer): number | undefined {
  const preStop = container.lifecycle?.preStop;
  if (!preStop) return undefined;
  if (preStop.sleep) return preStop.sleep.seconds * 1000;
  const command = preStop.exec?.command ?? [];
  if (command.length === 2 && command[0] === 'sleep' && /^\d+$/.test(command[1])) return Number(command[1]) * 1000;
  return 0;
}

export function deploymentProblems(objects: readonly K8sObject[]): string[] {
  const found = apiDeployment(objects);
  if (typeof found === 'string') return [found];
  const { deployment, container } = found;
  const problems: string[] = [];
  const pod = deployment.spec?.template.spec;
  const env = envValues(container);

  const image = container.image ?? '';
  const tag = image.includes('@sha256:') ? 'digest' : /:([^/:]+)$/.exec(image)?.[1];
  if (tag === undefined || tag === 'latest') problems.push(`image ${image || '(none)'}: pin it by tag or digest, not latest`);

  problems.push(...probeProblems(container, 'livenessProbe', container.livenessProbe, '/health/live'));
  problems.push(...probeProblems(container, 'readinessProbe', container.readinessProbe, '/health/ready'));
  if (env.has('MANAGEMENT_PORT') && env.get('MANAGEMENT_HOST') !== '0.0.0.0') {
    problems.push(
      `MANAGEMENT_HOST ${env.get('MANAGEMENT_HOST') ?? '(default 127.0.0.1)'}: the kubelet and Prometheus reach the pod IP, set 0.0.0.0`,
    );
  }
  if (env.get('HOST') !== '0.0.0.0') problems.push(`HOST ${env.get('HOST') ?? '(unset)'}: set 0.0.0.0 so the Service reaches the pod`);

  const runAsNonRoot = container.securityContext?.runAsNonRoot ?? pod?.securityContext?.runAsNonRoot;
  if (runAsNonRoot !== true) problems.push('securityContext: runAsNonRoot must be true');
  const runAsUser = container.securityContext?.runAsUser ?? pod?.securityContext?.runAsUser;
  if (runAsUser === undefined || runAsUser === 0) {
    problems.push(
      'securityContext: runAsUser must be a numeric non-root user (the image names its user, which runAsNonRoot cannot verify)',
    );
  }
  if (container.securityContext?.readOnlyRootFilesystem !== true) problems.push('securityContext: readOnlyRootFilesystem must be true');
  if (container.securityContext?.allowPrivilegeEscalation !== false)
    problems.push('securityContext: allowPrivilegeEscalation must be false');
  if (!container.securityContext?.capabilities?.drop?.includes('ALL')) problems.push('securityContext: capabilities must drop ALL');

  // With a read-only root, DATA_DIR (the development mailbox and PGlite) needs a writable volume.
  const dataDir = env.get('DATA_DIR');
  const mount = (container.volumeMounts ?? []).find((m) => m.mountPath === dataDir);
  const volume = pod?.volumes?.find((v) => v.name === mount?.name);
  if (!dataDir || !mount || mount.readOnly || !(volume?.emptyDir || volume?.persistentVolumeClaim)) {
    problems.push(`DATA_DIR ${dataDir ?? '(unset)'}: must be set and mounted from a writable volume (the root filesystem is read-only)`);
  }

  for (const resource of ['requests', 'limits'] as const) {
    for (const name of ['cpu', 'memory']) {
      if (container.resources?.[resource]?.[name] === undefined) problems.push(`resources.${resource}.${name}: missing`);
    }
  }

  // SHUTDOWN_TIMEOUT_MS counts from SIGTERM with the drain inside it; adding the drain again keeps a
  // margin. The kubelet's grace period starts before the preStop hook.
  const pause = preStopMs(container);
  if (pause === undefined) problems.push('lifecycle.preStop: missing (endpoints are removed asynchronously: pause before SIGTERM)');
  const drain = env.get('SHUTDOWN_DRAIN_MS');
  const timeout = env.get('SHUTDOWN_TIMEOUT_MS');
  if (drain === undefined || timeout === undefined) {
    problems.push('SHUTDOWN_DRAIN_MS and SHUTDOWN_TIMEOUT_MS: set both explicitly, the grace period is sized from them');
  } else {
    const needed = (pause ?? 0) + Number(drain) + Number(timeout);
    const grace = (pod?.terminationGracePeriodSeconds ?? 30) * 1000;
    if (!(grace > needed)) {
      problems.push(
        `terminationGracePeriodSeconds ${grace / 1000}: must exceed preStop ${pause ?? 0} ms + drain ${drain} ms + timeout ${timeout} ms`,
      );
    }
  }

  if (
    env.get('NODE_ENV') === 'production' &&
    !env.has('MANAGEMENT_PORT') &&
    !(container.env ?? []).some((e) => e.name === 'METRICS_TOKEN')
  ) {
    problems.push('NODE_ENV=production needs METRICS_TOKEN or MANAGEMENT_PORT, or the API refuses to start');
  }
  return problems;
}

export function scalingProblems(objects: readonly K8sObject[]): string[] {
  const found = apiDeployment(objects);
  if (typeof found === 'string') return [found];
  const { deployment } = found;
  const problems: string[] = [];
  const hpas = of<IHorizontalPodAutoscaler>(objects, 'HorizontalPodAutoscaler');
  const hpa = hpas.find((h) => h.spec?.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === deployment.metadata?.name);
  if (!hpa) problems.push('no HorizontalPodAutoscaler targets the Deployment');
  else {
    if (hpa.apiVersion !== 'autoscaling/v2') problems.push(`HorizontalPodAutoscaler: ${hpa.apiVersion}, expected autoscaling/v2`);
    if ((hpa.spec?.minReplicas ?? 1) < 2) problems.push('HorizontalPodAutoscaler: minReplicas below 2 leaves no pod during a disruption');
    if (deployment.spec?.replicas !== undefined)
      problems.push('Deployment: replicas is set, and every apply would reset what the autoscaler chose');
  }
  const pdb = of<IPodDisruptionBudget>(objects, 'PodDisruptionBudget').find((p) =>
    subsetOf(p.spec?.selector?.matchLabels, podLabels(deployment)),
  );
  if (!pdb) problems.push('no PodDisruptionBudget selects the API pods');
  else {
    const { maxUnavailable, minAvailable } = pdb.spec ?? {};
    const allowsOne =
      maxUnavailable !== undefined
        ? maxUnavailable !== 0 && maxUnavailable !== '0%'
        : minAvailable !== undefined && Number(minAvailable) < (hpa?.spec?.minReplicas ?? 1);
    if (!allowsOne) problems.push('PodDisruptionBudget: allows no eviction at the minimum replica count, node drains would hang');
  }
  return problems;
}

/** The ports (by name or number) a rule admits; undefined means every port. */
function admitsPort(ports: readonly { port?: number | string }[] | undefined, port: IContainerPort): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => p.port === undefined || p.port === port.name || p.port === port.containerPort);
}

export function networkPolicyProblems(objects: readonly K8sObject[]): string[] {
  const found = apiDeployment(objects);
  if (typeof found === 'string') return [found];
  const { deployment, container } = found;
  const metrics = servingPort(found.container).port;
  if (!metrics) return ['no container port serves /metrics'];
  const policies = of<INetworkPolicy>(objects, 'NetworkPolicy').filter((p) =>
    subsetOf(p.spec?.podSelector?.matchLabels, podLabels(deployment)),
  );
  if (policies.length === 0) return ['no NetworkPolicy selects the API pods'];
  const problems: string[] = [];
  let prometheusAdmitted = false;
  // Policies add up: any one admitting a peer on the port opens it.
  for (const policy of policies) {
    const id = `NetworkPolicy/${policy.metadata?.name}`;
    if (!policy.spec?.policyTypes?.includes('Ingress')) problems.push(`${id}: policyTypes must include Ingress`);
    for (const rule of policy.spec?.ingress ?? []) {
      if (!admitsPort(rule.ports, metrics)) continue;
      const peers = rule.from ?? [];
      if (peers.length === 0) {
        problems.push(`${id}: admits every source on the metrics port ${metrics.name ?? metrics.containerPort}`);
        continue;
      }
      for (const peer of peers) {
        if (peer.ipBlock || !subsetOf(PROMETHEUS_POD_LABEL, peer.podSelector?.matchLabels)) {
          problems.push(`${id}: admits ${JSON.stringify(peer)} on the metrics port; only Prometheus pods may reach it`);
        } else prometheusAdmitted = true;
      }
    }
  }
  if (!prometheusAdmitted)
    problems.push(`no NetworkPolicy admits Prometheus pods on the metrics port ${metrics.name ?? metrics.containerPort}`);
  const publicPort = (container.ports ?? []).find((p) => p.containerPort === Number(envValues(container).get('PORT') ?? 3000));
  if (publicPort && publicPort !== metrics && !policies.some((p) => p.spec?.ingress?.some((r) => admitsPort(r.ports, publicPort)))) {
    problems.push(`no NetworkPolicy admits clients on the public port ${publicPort.name ?? publicPort.containerPort}`);
  }
  return problems;
}

export function serviceMonitorProblems(objects: readonly K8sObject[]): string[] {
  const found = apiDeployment(objects);
  if (typeof found === 'string') return [found];
  const { deployment, container } = found;
  const monitors = of<IServiceMonitor>(objects, 'ServiceMonitor');
  if (monitors.length !== 1) return [`expected one ServiceMonitor, found ${monitors.length}`];
  const monitor = monitors[0];
  const services = of<IService>(objects, 'Service').filter((s) => subsetOf(monitor.spec.selector.matchLabels, s.metadata?.labels));
  if (services.length !== 1) return [`the ServiceMonitor's selector matches ${services.length} Services, expected one`];
  const service = services[0];
  const problems: string[] = [];
  if (!subsetOf(service.spec?.selector, podLabels(deployment)))
    problems.push(`Service/${service.metadata?.name}: its selector does not match the API pods`);

  const job = monitor.spec.jobLabel ? service.metadata?.labels?.[monitor.spec.jobLabel] : service.metadata?.name;
  if (job !== API_JOB) problems.push(`scrape job would be "${job}", the rules and dashboards select job="${API_JOB}"`);

  const metrics = servingPort(container).port;
  const tokenRef = container.env?.find((e) => e.name === 'METRICS_TOKEN')?.valueFrom?.secretKeyRef;
  for (const endpoint of monitor.spec.endpoints ?? []) {
    const servicePort = service.spec?.ports?.find((p) => p.name === endpoint.port);
    if (!servicePort) {
      problems.push(`ServiceMonitor port ${endpoint.port}: no such port on Service/${service.metadata?.name}`);
      continue;
    }
    const target = containerPort(container, servicePort.targetPort ?? servicePort.port);
    if (!target || target !== metrics)
      problems.push(`ServiceMonitor port ${endpoint.port}: does not lead to the port that serves /metrics`);
    if ((endpoint.path ?? '/metrics') !== '/metrics') problems.push(`ServiceMonitor path ${endpoint.path}: the API serves /metrics`);
    const credentials = endpoint.authorization?.credentials ?? endpoint.bearerTokenSecret;
    if (tokenRef && (credentials?.name !== tokenRef.name || credentials?.key !== tokenRef.key)) {
      problems.push(
        `ServiceMonitor bearer token ${JSON.stringify(credentials)}: must be the Secret key METRICS_TOKEN comes from (${tokenRef.name}/${tokenRef.key})`,
      );
    }
  }
  return problems;
}

/** The PrometheusRules must carry exactly the groups of the rule files, by object name. */
export function prometheusRuleProblems(objects: readonly K8sObject[], expected: ReadonlyMap<string, unknown[]>): string[] {
  const rules = of<IPrometheusRule>(objects, 'PrometheusRule');
  const problems: string[] = [];
  const names = rules.map((r) => r.metadata?.name ?? '');
  if (!isDeepStrictEqual([...names].sort(), [...expected.keys()].sort())) {
    problems.push(`PrometheusRules ${names.join(', ')}, expected ${[...expected.keys()].join(', ')}`);
  }
  for (const rule of rules) {
    const groups = expected.get(rule.metadata?.name ?? '');
    if (!groups) continue;
    const actual = rule.spec.groups ?? [];
    if (isDeepStrictEqual(actual, groups)) continue;
    const differing = actual.findIndex((g, i) => !isDeepStrictEqual(g, groups[i]));
    problems.push(
      `PrometheusRule/${rule.metadata?.name}: groups differ from the rule file (${actual.length} vs ${groups.length} groups, first difference at group ${differing === -1 ? actual.length : differing})`,
    );
  }
  return problems;
}

/** One ConfigMap per dashboard, labelled for Grafana's sidecar, holding the file byte for byte. */
export function dashboardProblems(objects: readonly K8sObject[], dashboards: ReadonlyMap<string, string>): string[] {
  const maps = of<IConfigMap>(objects, 'ConfigMap').filter((c) => c.metadata?.labels?.grafana_dashboard === '1');
  const problems: string[] = [];
  for (const [file, json] of dashboards) {
    const holders = maps.filter((c) => c.data?.[file] !== undefined);
    if (holders.length !== 1) problems.push(`${file}: in ${holders.length} ConfigMaps labelled grafana_dashboard="1", expected one`);
    else if (holders[0].data?.[file] !== json)
      problems.push(`${file}: ConfigMap/${holders[0].metadata?.name} differs from the dashboard file`);
  }
  if (maps.length !== dashboards.size) problems.push(`${maps.length} dashboard ConfigMaps for ${dashboards.size} dashboards`);
  return problems;
}

/** Cluster-scoped kinds among those the manifests use; everything else must land in the namespace. */
const CLUSTER_SCOPED = new Set(['Namespace']);

export function namespaceProblems(objects: readonly K8sObject[], namespace: string): string[] {
  return objects.flatMap((o) => {
    if (CLUSTER_SCOPED.has(o.kind)) return [];
    return o.metadata.namespace === namespace
      ? []
      : [`${o.kind}/${o.metadata.name}: namespace ${o.metadata.namespace ?? '(none)'}, expected ${namespace}`];
  });
}

/** The Secrets the objects read (env, envFrom, the ServiceMonitor's token), sorted. */
export function secretNames(objects: readonly K8sObject[]): string[] {
  const names = new Set<string>();
  for (const deployment of of<IDeployment>(objects, 'Deployment')) {
    for (const container of deployment.spec?.template.spec?.containers ?? []) {
      for (const e of container.env ?? []) if (e.valueFrom?.secretKeyRef) names.add(e.valueFrom.secretKeyRef.name ?? '');
      for (const e of container.envFrom ?? []) if (e.secretRef) names.add(e.secretRef.name ?? '');
    }
  }
  for (const monitor of of<IServiceMonitor>(objects, 'ServiceMonitor')) {
    for (const endpoint of monitor.spec.endpoints ?? []) {
      const credentials = endpoint.authorization?.credentials ?? endpoint.bearerTokenSecret;
      if (credentials) names.add(credentials.name ?? '');
    }
  }
  return [...names].sort();
}
