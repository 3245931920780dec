import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { COMPOSE_FILE, REPO_ROOT } from './support/paths.js';
import { cleanEnv, output, run } from './support/run.js';

/**
 * What docker-compose.yml exposes, read from the file itself (compose.test.ts checks the same
 * through `docker-compose config`; this file needs no Docker tooling except for its last test):
 * only the API and Grafana listen on the host's interfaces, Prometheus and Alertmanager on
 * 127.0.0.1 only, everything else (the databases, the exporters, the alert sink, none of which
 * asks for a password) only on the compose network; no service shares the host's network; and no
 * password or token has a default, not even the empty values of .env.example.
 */

type Port = string | number | { target: number; published?: string | number; host_ip?: string; protocol?: string };

interface SourceService {
  ports?: Port[];
  network_mode?: string;
  ipc?: string;
  pid?: string;
  privileged?: boolean;
  environment?: Record<string, string | number | boolean | null> | string[];
}

const source = readFileSync(COMPOSE_FILE, 'utf8');
const services = (parse(source) as { services: Record<string, SourceService> }).services;

/** Compose's variable interpolation, for the forms the file uses: $$, ${VAR}, ${VAR:-default}, ${VAR:?error}. */
function interpolate(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}/g, (match, name: string | undefined, op: string | undefined, arg: string) => {
    if (match === '$$') return '$';
    const value = env[name as string];
    const missing = value === undefined || (op?.startsWith(':') && value === '');
    if (!missing) return value;
    if (op?.endsWith('-')) return arg;
    if (op?.endsWith('?')) throw new Error(`${name}: ${arg}`);
    return '';
  });
}

interface Published {
  /** '' means every interface. */
  readonly hostIp: string;
  readonly hostPort: string;
  readonly containerPort: string;
}

/** A `ports` entry in either syntax; the short one is [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]. */
function published(port: Port, env: Readonly<Record<string, string>>): Published {
  if (typeof port === 'object') {
    return { hostIp: port.host_ip ?? '', hostPort: String(port.published ?? ''), containerPort: String(port.target) };
  }
  const text = interpolate(String(port), env).replace(/\/\w+$/, '');
  const parts = text.split(':');
  const containerPort = parts.pop() as string;
  // A container port alone is published on a random host port, on every interface.
  const hostPort = parts.pop() ?? '';
  return { hostIp: parts.join(':').replace(/^\[|\]$/g, ''), hostPort, containerPort };
}

const publishedBy = (env: Readonly<Record<string, string>>) =>
  Object.fromEntries(
    Object.entries(services)
      .filter(([, service]) => service.ports?.length)
      .map(([name, service]) => [name, (service.ports ?? []).map((port) => published(port, env))]),
  );

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
/** Opened by users and operators, and protected by their own authentication (METRICS_TOKEN for /metrics, Grafana's login). */
const PUBLIC = ['api', 'grafana'];
/** Reached through an SSH tunnel or an authenticating proxy: no authentication of their own. */
const LOOPBACK_ONLY = ['alertmanager', 'prometheus'];

describe('docker-compose.yml exposure', () => {
  it('publishes only the API and Grafana on the host interfaces, Prometheus and Alertmanager on 127.0.0.1, nothing else', () => {
    const ports = publishedBy({});
    assert.deepEqual(Object.keys(ports).sort(), [...PUBLIC, ...LOOPBACK_ONLY].sort(), 'services with published ports');
    for (const name of LOOPBACK_ONLY) {
      for (const port of ports[name] ?? [])
        assert.ok(LOOPBACK.has(port.hostIp), `${name} publishes ${JSON.stringify(port)} beyond loopback`);
    }
    assert.deepEqual(ports.api, [{ hostIp: '', hostPort: '3000', containerPort: '3000' }]);
    assert.deepEqual(ports.grafana, [{ hostIp: '', hostPort: '3001', containerPort: '3000' }]);
  });

  it('keeps Prometheus and Alertmanager on loopback whatever ports .env picks', () => {
    const ports = publishedBy({ PROMETHEUS_PORT: '19090', ALERTMANAGER_PORT: '19093', PORT: '18080', GRAFANA_PORT: '18081' });
    assert.deepEqual(ports.prometheus, [{ hostIp: '127.0.0.1', hostPort: '19090', containerPort: '9090' }]);
    assert.deepEqual(ports.alertmanager, [{ hostIp: '127.0.0.1', hostPort: '19093', containerPort: '9093' }]);
    // The address is written in the file, not taken from a variable that .env could widen.
    for (const name of LOOPBACK_ONLY) {
      for (const port of services[name]?.ports ?? []) assert.match(String(port), /^127\.0\.0\.1:\$\{\w+:-\d+\}:\d+$/, name);
    }
  });

  it('shares no host namespace but the process table node-exporter reads, and runs nothing privileged', () => {
    for (const [name, service] of Object.entries(services)) {
      assert.equal(service.network_mode, undefined, `${name}: network_mode ${service.network_mode} bypasses the published ports`);
      assert.equal(service.ipc, undefined, `${name}: ipc ${service.ipc}`);
      assert.notEqual(service.privileged, true, `${name} is privileged`);
      if (service.pid !== undefined) assert.deepEqual([name, service.pid], ['node-exporter', 'host']);
    }
  });

  it('takes every password and token from a required variable, empty counting as unset', () => {
    const secretName = /PASSWORD|PASS$|TOKEN|SECRET/;
    const references = [...source.matchAll(/\$\{(\w+)([^}]*)\}/g)].filter(([, name]) => secretName.test(name as string));
    assert.ok(references.length >= 3, 'the file references its secrets');
    for (const [reference, name, rest] of references) {
      // `:?` rather than `?`: compose then refuses an empty value too, as .env.example leaves them.
      assert.match(rest as string, /^:\?\s*set \w+ in \.env/, `${reference}: ${name} must be \${${name}:?set ${name} in .env …}`);
    }
    for (const [name, service] of Object.entries(services)) {
      const environment = Array.isArray(service.environment)
        ? Object.fromEntries(service.environment.map((entry) => entry.split(/=(.*)/s).slice(0, 2)))
        : (service.environment ?? {});
      for (const [key, value] of Object.entries(environment)) {
        if (!secretName.test(key)) continue;
        assert.match(String(value), /^\$\{\w+:\?[^}]*\}$/, `${name}: ${key} is not taken from a required variable`);
      }
    }
  });

  it('refuses to start from an untouched copy of .env.example', async () => {
    const result = await run('docker-compose', ['--env-file', join(REPO_ROOT, '.env.example'), '-f', COMPOSE_FILE, 'config', '-q'], {
      cwd: REPO_ROOT,
      env: cleanEnv(),
    });
    assert.notEqual(result.code, 0, output(result));
    assert.match(result.stderr, /set (POSTGRES_PASSWORD|METRICS_TOKEN|GRAFANA_ADMIN_PASSWORD) in \.env/, output(result));
  });
});
