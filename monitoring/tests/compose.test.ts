import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { COMPOSE_FILE, DOCKERFILE, REPO_ROOT } from './support/paths.js';
import { readPrometheusConfig } from './support/prometheus-config.js';
import { cleanEnv, output, type RunResult, run } from './support/run.js';
import { useTempDir } from './support/temp.js';

/** The secrets compose refuses to start without, with test values. */
const REQUIRED = {
  POSTGRES_PASSWORD: 'test-postgres-password',
  METRICS_TOKEN: 'test-metrics-token-0123456789abcdef',
  GRAFANA_ADMIN_PASSWORD: 'test-grafana-password',
} as const;

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  ports?: (string | { host_ip?: string; published: number; target: number; protocol?: string })[];
  volumes?: string[];
  command?: string[];
  entrypoint?: string[];
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
}

/** docker-compose prints ports short (`127.0.0.1:9090:9090/tcp`) or long; one notation for both. */
function ports(service: Service | undefined): string[] {
  return (service?.ports ?? []).map((port) =>
    typeof port === 'string' ? port : `${port.host_ip ? `${port.host_ip}:` : ''}${port.published}:${port.target}/${port.protocol ?? 'tcp'}`,
  );
}

interface ComposeConfig {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

describe('docker-compose.yml', () => {
  const tempDir = useTempDir('compose');
  let emptyEnvFile: string;
  let resolved: ComposeConfig;

  /**
   * `docker-compose config` with exactly `env`: an empty --env-file keeps a developer's .env
   * out of the test, and nothing is inherited from the shell.
   */
  const compose = (env: Record<string, string>, ...args: string[]): Promise<RunResult> =>
    run('docker-compose', ['--env-file', emptyEnvFile, '-f', COMPOSE_FILE, 'config', ...args], {
      cwd: REPO_ROOT,
      env: cleanEnv(env),
    });

  before(async () => {
    emptyEnvFile = join(tempDir(), 'empty.env');
    await writeFile(emptyEnvFile, '');
    const result = await compose(REQUIRED);
    assert.equal(result.code, 0, output(result));
    resolved = parse(result.stdout) as ComposeConfig;
  });

  it('is valid for docker-compose once the required secrets are set', async () => {
    const result = await compose(REQUIRED, '-q');
    assert.equal(result.code, 0, output(result));
  });

  for (const name of Object.keys(REQUIRED)) {
    it(`refuses to start without ${name}, saying where to set it`, async () => {
      const env: Record<string, string> = { ...REQUIRED };
      delete env[name];
      const result = await compose(env, '-q');
      assert.notEqual(result.code, 0, output(result));
      assert.match(result.stderr, new RegExp(`set ${name} in \\.env`));
    });
  }

  it('has no default for any password or token', () => {
    const source = readFileSync(COMPOSE_FILE, 'utf8');
    assert.doesNotMatch(source, /\$\{\w*(PASSWORD|TOKEN|SECRET)\w*:?-/);
    assert.doesNotMatch(source, /admin\/admin|PASSWORD: *admin/i);
  });

  it('runs the API, its data stores and the monitoring stack', () => {
    assert.deepEqual(Object.keys(resolved.services).sort(), [
      'alert-sink',
      'alertmanager',
      'api',
      'grafana',
      'jaeger',
      'loki',
      'node-exporter',
      'postgres',
      'postgres-exporter',
      'prometheus',
      'promtail',
      'redis',
      'redis-exporter',
      'victoria-metrics',
    ]);
  });

  it('traces into Jaeger over OTLP/HTTP and ships the API logs to Loki; Prometheus keeps exemplars', () => {
    const api = resolved.services.api?.environment ?? {};
    assert.equal(api.OTEL_TRACES_EXPORTER, 'otlp', 'on next to Jaeger unless .env says none');
    assert.equal(api.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://jaeger:4318');
    assert.equal(resolved.services.jaeger?.environment?.COLLECTOR_OTLP_ENABLED, 'true');
    assert.ok(resolved.services.prometheus?.command?.includes('--enable-feature=exemplar-storage'));
    assert.deepEqual(Object.entries(resolved.services.promtail?.depends_on ?? {}), [['loki', { condition: 'service_healthy' }]]);
  });

  it('pins every image to a version, never latest, and builds the API from the Dockerfile', () => {
    for (const [name, service] of Object.entries(resolved.services)) {
      if (service.build) {
        assert.equal(name, 'api', `${name} is built`);
        continue;
      }
      const tag = /^[\w.\-/]+:([\w.-]+)$/.exec(service.image ?? '')?.[1];
      assert.ok(tag, `${name}: image ${service.image} has no tag`);
      assert.notEqual(tag, 'latest', `${name}: latest`);
      assert.match(tag, /^v?\d/, `${name}: tag ${tag} names no version`);
    }
  });

  it('gives every service a health check and starts dependants once they are healthy', () => {
    for (const [name, service] of Object.entries(resolved.services)) {
      assert.ok(service.healthcheck?.test?.length && !service.healthcheck.disable, `${name} has no health check`);
    }
    const healthy = (service: string) => Object.entries(resolved.services[service]?.depends_on ?? {});
    assert.deepEqual(healthy('api'), [
      ['postgres', { condition: 'service_healthy' }],
      ['redis', { condition: 'service_healthy' }],
    ]);
    assert.deepEqual(healthy('grafana'), [
      ['prometheus', { condition: 'service_healthy' }],
      ['victoria-metrics', { condition: 'service_healthy' }],
    ]);
  });

  it('publishes the API and Grafana, binds Prometheus and Alertmanager to 127.0.0.1, hides the rest', () => {
    const published = Object.fromEntries(
      Object.entries(resolved.services)
        .filter(([, service]) => service.ports?.length)
        .map(([name, service]) => [name, ports(service)]),
    );
    assert.deepEqual(published, {
      api: ['3000:3000/tcp'],
      grafana: ['3001:3000/tcp'],
      prometheus: ['127.0.0.1:9090:9090/tcp'],
      alertmanager: ['127.0.0.1:9093:9093/tcp'],
    });
  });

  it('takes host ports and the Prometheus retention from the environment', async () => {
    const result = await compose({
      ...REQUIRED,
      PORT: '8080',
      GRAFANA_PORT: '8081',
      PROMETHEUS_PORT: '8082',
      ALERTMANAGER_PORT: '8083',
      PROMETHEUS_RETENTION: '90d',
    });
    assert.equal(result.code, 0, output(result));
    const services = (parse(result.stdout) as ComposeConfig).services;
    assert.deepEqual(ports(services.api), ['8080:3000/tcp']);
    assert.deepEqual(ports(services.grafana), ['8081:3000/tcp']);
    assert.deepEqual(ports(services.prometheus), ['127.0.0.1:8082:9090/tcp']);
    assert.deepEqual(ports(services.alertmanager), ['127.0.0.1:8083:9093/tcp']);
    assert.ok(services.prometheus?.command?.includes('--storage.tsdb.retention.time=90d'));
    assert.ok(resolved.services.prometheus?.command?.includes('--storage.tsdb.retention.time=30d'), 'default 30d');
  });

  it('hands METRICS_TOKEN to Prometheus as a private file, then starts Prometheus with its arguments', async () => {
    // The entrypoint script as the container runs it ($$ is compose's escape for $), with the
    // tmpfs path and the binary swapped for a temporary directory and `echo`.
    const [shell, flag, script, argv0] = resolved.services.prometheus?.entrypoint ?? [];
    assert.deepEqual([shell, flag, argv0], ['/bin/sh', '-c', 'prometheus']);
    const local = (script as string)
      .replaceAll('$$', '$')
      .replaceAll('/run/prometheus/', `${tempDir()}/`)
      .replace('exec /bin/prometheus', 'exec echo');
    const result = await run('sh', ['-c', local, 'prometheus', '--config.file=/etc/prometheus/prometheus.yml', '--a=b c'], {
      env: cleanEnv({ METRICS_TOKEN: REQUIRED.METRICS_TOKEN }),
    });
    assert.equal(result.code, 0, output(result));
    assert.equal(result.stdout, '--config.file=/etc/prometheus/prometheus.yml --a=b c\n');
    const tokenFile = join(tempDir(), 'metrics_token');
    assert.equal(readFileSync(tokenFile, 'utf8'), REQUIRED.METRICS_TOKEN, 'the token alone, no newline');
    assert.equal(statSync(tokenFile).mode & 0o077, 0, 'readable by its owner only');
    const credentialsFile = readPrometheusConfig().scrape_configs.find((job) => job.authorization)?.authorization?.credentials_file;
    assert.equal(credentialsFile, '/run/prometheus/metrics_token', 'prometheus.yml reads the file the entrypoint writes');
    assert.ok(resolved.services.prometheus?.command?.includes('--config.file=/etc/prometheus/prometheus.yml'));
  });

  it('secures Grafana: admin from the environment, no anonymous access, no sign-up', () => {
    const env = resolved.services.grafana?.environment ?? {};
    assert.equal(env.GF_SECURITY_ADMIN_USER, 'admin');
    assert.equal(env.GF_SECURITY_ADMIN_PASSWORD, REQUIRED.GRAFANA_ADMIN_PASSWORD);
    assert.equal(env.GF_AUTH_ANONYMOUS_ENABLED, 'false');
    assert.equal(env.GF_USERS_ALLOW_SIGN_UP, 'false');
  });

  it('shares METRICS_TOKEN between the API and Prometheus, and points the API at the compose data stores', () => {
    const api = resolved.services.api?.environment ?? {};
    assert.equal(api.METRICS_TOKEN, REQUIRED.METRICS_TOKEN);
    assert.equal(resolved.services.prometheus?.environment?.METRICS_TOKEN, REQUIRED.METRICS_TOKEN);
    assert.equal(api.DATABASE_URL, 'postgres://app@postgres:5432/app');
    assert.equal(api.PGPASSWORD, REQUIRED.POSTGRES_PASSWORD);
    assert.equal(api.REDIS_URL, 'redis://redis:6379');
  });

  it('keeps state in named volumes and mounts only files that exist', () => {
    for (const [name, service] of Object.entries(resolved.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0] as string;
        if (source === '/var/run/docker.sock') {
          // The Docker host's own socket (absent here, where no engine runs): promtail alone, read-only.
          assert.deepEqual([name, volume.split(':')[2]], ['promtail', 'ro'], `${name} mounts the Docker socket`);
        } else if (source.startsWith('/')) {
          assert.ok(source === '/' || existsSync(source), `${name} mounts missing ${source}`);
        } else {
          assert.ok(source in resolved.volumes, `${name} uses undeclared volume ${source}`);
        }
      }
    }
    for (const stateful of ['postgres', 'redis', 'prometheus', 'alertmanager', 'grafana', 'victoria-metrics']) {
      assert.ok(
        resolved.services[stateful]?.volumes?.some((volume) => `${volume.split(':')[0]}` in resolved.volumes),
        `${stateful} keeps no named volume`,
      );
    }
  });

  it('keeps a long-term store that Prometheus remote-writes to and Grafana offers as a datasource, unpublished', async () => {
    const vm = resolved.services['victoria-metrics'];
    assert.match(vm?.image ?? '', /^victoriametrics\/victoria-metrics:v\d+\.\d+\.\d+$/, 'a pinned release');
    assert.deepEqual(vm?.ports ?? [], [], 'no authentication of its own: reached through Grafana only');
    const listen = vm?.command
      ?.find((flag) => flag.startsWith('-httpListenAddr='))
      ?.split(':')
      .at(-1);
    assert.ok(vm?.command?.includes('-storageDataPath=/storage'));
    assert.ok(
      vm?.volumes?.some((volume) => volume.startsWith('victoria-metrics-data:/storage')),
      'its data on the named volume',
    );
    assert.ok(vm?.command?.includes('-retentionPeriod=12'), 'default 12 months');
    const longer = await compose({ ...REQUIRED, VICTORIA_METRICS_RETENTION: '2y' });
    assert.equal(longer.code, 0, output(longer));
    assert.ok((parse(longer.stdout) as ComposeConfig).services['victoria-metrics']?.command?.includes('-retentionPeriod=2y'));
    // Prometheus sends to it, and Grafana reads from it, on the port it listens on.
    assert.deepEqual(readPrometheusConfig().remote_write, [{ url: `http://victoria-metrics:${listen}/api/v1/write` }]);
    const datasources = (
      parse(readFileSync(join(REPO_ROOT, 'monitoring/grafana/provisioning/datasources/datasources.yml'), 'utf8')) as {
        datasources: { uid: string; type: string; url: string; isDefault?: boolean }[];
      }
    ).datasources;
    const longTerm = datasources.find((datasource) => datasource.uid === 'long-term');
    assert.deepEqual([longTerm?.type, longTerm?.url, longTerm?.isDefault], ['prometheus', `http://victoria-metrics:${listen}`, undefined]);
  });

  it('runs every service prometheus.yml scrapes', () => {
    for (const job of readPrometheusConfig().scrape_configs) {
      for (const target of job.static_configs.flatMap((config) => config.targets)) {
        const [host] = target.split(':');
        assert.ok(host && host in resolved.services, `${job.job_name} scrapes ${target}: no such service`);
      }
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(DOCKERFILE, 'utf8');

  it('builds in one stage and runs from a slim Node.js 20 image in another, as a non-root user', () => {
    const stages = [...dockerfile.matchAll(/^FROM (\S+) AS (\w+)$/gm)].map(([, image, stage]) => ({ image, stage }));
    assert.deepEqual(stages, [
      { image: 'node:20-bookworm-slim', stage: 'build' },
      { image: 'node:20-bookworm-slim', stage: 'runtime' },
    ]);
    assert.match(dockerfile, /^RUN npm ci$/m);
    assert.match(dockerfile, /npx tsc -b/);
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^CMD \["node", "apps\/api"\]$/m);
  });

  it('copies every workspace manifest npm ci needs', () => {
    const workspaces = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
    for (const workspace of workspaces) {
      assert.match(dockerfile, new RegExp(`^COPY ${workspace}/package\\.json ${workspace}/$`, 'm'), workspace);
    }
  });
});
