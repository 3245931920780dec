import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, redactedConfig } from '../src/config/config.js';
import { spawnApi } from './support/api.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return [...error.problems];
  }
  assert.fail(`expected ${JSON.stringify(env)} to be rejected`);
}

describe('configuration', () => {
  it('starts with no variable at all, on safe defaults', () => {
    const config = loadConfig({});
    assert.equal(config.PORT, 3000);
    assert.equal(config.HOST, '127.0.0.1');
    assert.equal(config.HTTP_ADAPTER, 'express');
    assert.equal(config.METRICS_ENABLED, true);
    assert.equal(config.DATABASE_URL, undefined);
    assert.deepEqual(config.CORS_ORIGINS, []);
    assert.equal(config.OTEL_TRACES_EXPORTER, 'none', 'tracing is off by default');
  });

  it('treats empty values as unset, as .env files write them', () => {
    assert.equal(loadConfig({ PORT: '', DATABASE_URL: '' }).PORT, 3000);
  });

  const BAD: [Record<string, string>, RegExp][] = [
    [{ PORT: 'abc' }, /^PORT: expected a port number, got "abc"$/],
    [{ PORT: '70000' }, /^PORT: expected a port between 1 and 65535, got "70000"$/],
    [{ PORT: '30.5' }, /^PORT: expected a whole number/],
    [{ HTTP_ADAPTER: 'koa' }, /^HTTP_ADAPTER: expected express or fastify, got "koa"$/],
    [{ NODE_ENV: 'prod' }, /^NODE_ENV: expected development, test or production, got "prod"$/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL: expected fatal, error/],
    [{ METRICS_ENABLED: 'maybe' }, /^METRICS_ENABLED: expected true or false, got "maybe"$/],
    [{ DB_POOL_MAX: '0' }, /^DB_POOL_MAX: expected at least 1, got "0"$/],
    [{ BODY_LIMIT_BYTES: 'lots' }, /^BODY_LIMIT_BYTES: expected a number, got "lots"$/],
    [{ QUEUE_PREFIX: 'has space' }, /^QUEUE_PREFIX: expected letters, digits/],
    [{ MANAGEMENT_PORT: '3000' }, /^MANAGEMENT_PORT: must differ from PORT \(3000\)$/],
    [{ NODE_ENV: 'production' }, /^METRICS_TOKEN or MANAGEMENT_PORT: NODE_ENV=production would expose \/metrics publicly/],
    [{ OTEL_TRACES_EXPORTER: 'jaeger' }, /^OTEL_TRACES_EXPORTER: expected none or otlp, got "jaeger"$/],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318' },
      /^OTEL_EXPORTER_OTLP_ENDPOINT: expected a URL starting with http:\/\/ or https:\/\//,
    ],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /^OTEL_EXPORTER_OTLP_PROTOCOL: expected http\/protobuf or http\/json, got "grpc"$/],
    [{ OTEL_TRACES_SAMPLER: 'sometimes' }, /^OTEL_TRACES_SAMPLER: expected always_on/],
    [{ OTEL_TRACES_SAMPLER_ARG: '1.5' }, /^OTEL_TRACES_SAMPLER_ARG: expected a number between 0 and 1, got "1.5"$/],
    [{ OTEL_SERVICE_NAME: 'has space' }, /^OTEL_SERVICE_NAME: expected letters, digits/],
  ];
  for (const [env, expected] of BAD) {
    it(`rejects ${JSON.stringify(env)} naming the variable`, () => {
      const problems = problemsOf(env);
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0], expected);
    });
  }

  it('never echoes a secret in its error message', () => {
    const cases: Record<string, string> = {
      DATABASE_URL: 'mysql://user:hunter2secret@db/app',
      REDIS_URL: 'http://:hunter2secret@cache',
      SMTP_URL: 'ftp://hunter2secret',
      METRICS_TOKEN: 'hunter2secret',
    };
    const problems = problemsOf(cases);
    assert.equal(problems.length, 4);
    for (const [name] of Object.entries(cases))
      assert.ok(
        problems.some((p) => p.startsWith(`${name}: `)),
        name,
      );
    assert.ok(!problems.join('\n').includes('hunter2secret'), problems.join('\n'));
    assert.match(problems.find((p) => p.startsWith('DATABASE_URL'))!, /expected a URL starting with postgres:\/\/ or postgresql:\/\//);
    assert.match(problems.find((p) => p.startsWith('METRICS_TOKEN'))!, /expected at least 16 characters/);
  });

  it('accepts production when /metrics is protected by a token or a management port', () => {
    assert.equal(loadConfig({ NODE_ENV: 'production', METRICS_TOKEN: 'x'.repeat(32) }).NODE_ENV, 'production');
    assert.equal(loadConfig({ NODE_ENV: 'production', MANAGEMENT_PORT: '9464' }).MANAGEMENT_PORT, 9464);
    assert.equal(loadConfig({ NODE_ENV: 'production', METRICS_ENABLED: 'false' }).METRICS_ENABLED, false);
  });

  it('redacts secrets when the configuration is logged', () => {
    const shown = JSON.stringify(
      redactedConfig(loadConfig({ DATABASE_URL: 'postgres://u:pw-secret@h/db', METRICS_TOKEN: 'tok'.repeat(8) })),
    );
    assert.ok(!shown.includes('pw-secret') && !shown.includes('toktok'), shown);
    assert.match(shown, /"DATABASE_URL":"\(set\)"/);
  });
});

describe('start-up with a bad environment', () => {
  for (const [env, expected] of [
    [{ PORT: 'abc' }, /PORT: expected a port number, got "abc"/],
    [{ DATABASE_URL: 'not a url' }, /DATABASE_URL: expected a URL starting with postgres:\/\//],
    [{ NODE_ENV: 'production' }, /METRICS_TOKEN or MANAGEMENT_PORT/],
    [
      { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
      /OTEL_EXPORTER_OTLP_PROTOCOL: expected http\/protobuf or http\/json/,
    ],
  ] as const) {
    it(`exits non-zero and says why: ${JSON.stringify(env)}`, async () => {
      const api = spawnApi({ ...env, DATA_DIR: '/nonexistent-never-created' });
      const code = await api.exited;
      assert.equal(code, 78);
      assert.match(api.output(), expected);
      assert.match(api.output(), /See \.env\.example/);
    });
  }
});
