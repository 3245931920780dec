import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isolatedEnv, postJson, type SpawnedApi, spawnApi, waitUntilListening } from './support/api.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './support/otlp-receiver.js';
import { freePort, tempDir, waitFor } from './support/services.js';
import { startSmtp, type TestSmtp } from './support/smtp.js';

const PROMETHEUS = process.env.PROMETHEUS ?? '/usr/bin/prometheus';

interface Prometheus {
  readonly url: string;
  close(): Promise<void>;
}

/** The real Prometheus, with exemplar storage on as the stack runs it, scraping one target every second. */
async function startPrometheus(target: string): Promise<Prometheus> {
  const dir = await tempDir();
  const port = await freePort();
  const config = join(dir.path, 'prometheus.yml');
  await writeFile(
    config,
    `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: api\n    static_configs:\n      - targets: ['${target}']\n`,
  );
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir.path, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--enable-feature=exemplar-storage',
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      await dir.remove();
    },
  };
}

interface ExemplarResult {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string }[];
}

async function queryExemplars(prometheus: string, query: string): Promise<ExemplarResult[]> {
  const end = Date.now() / 1000 + 60;
  const res = await fetch(`${prometheus}/api/v1/query_exemplars?query=${encodeURIComponent(query)}&start=${end - 3600}&end=${end}`);
  if (!res.ok) return [];
  return ((await res.json()) as { data: ExemplarResult[] }).data ?? [];
}

const logLines = (output: string) =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

interface Running {
  api: SpawnedApi;
  url: string;
  metricsUrl: string;
  env: Record<string, string>;
  /** `keepData`: leave the database for a next instance (a restart). */
  stop(keepData?: boolean): Promise<void>;
}

async function startTracedApi(
  receiver: OtlpReceiver,
  smtp: TestSmtp,
  extra: Record<string, string>,
  backends: 'real' | 'embedded' = 'real',
  adapter: 'express' | 'fastify' = 'express',
): Promise<Running> {
  const port = await freePort();
  const { env, cleanup } = await isolatedEnv(backends, adapter, {
    PORT: String(port),
    LOG_LEVEL: 'info',
    SMTP_URL: smtp.url,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    // Export within a tenth of a second rather than OpenTelemetry's default five.
    OTEL_BSP_SCHEDULE_DELAY: '100',
    ...extra,
  });
  const api = spawnApi(env);
  await waitUntilListening(api).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\n${api.output().slice(-3000)}`);
  });
  return {
    api,
    url: `http://127.0.0.1:${port}`,
    metricsUrl: `127.0.0.1:${port}`,
    env,
    async stop(keepData = false) {
      api.child.kill('SIGTERM');
      await api.exited;
      if (!keepData) await cleanup();
    },
  };
}

describe('tracing: one sign-up, one trace, its exemplars and its log lines', () => {
  let receiver: OtlpReceiver;
  let smtp: TestSmtp;
  before(async () => {
    receiver = await startOtlpReceiver();
    smtp = await startSmtp();
  });
  after(async () => {
    await receiver.close();
    await smtp.close();
  });

  it('OTEL_TRACES_EXPORTER=otlp: request, handler, inserts, relay, job and SMTP send are one trace; Prometheus stores its exemplar; its log lines carry it', async () => {
    const running = await startTracedApi(receiver, smtp, { OTEL_TRACES_EXPORTER: 'otlp', OTEL_SERVICE_NAME: 'api-under-test' });
    const prometheus = await startPrometheus(running.metricsUrl);
    try {
      const res = await postJson(`${running.url}/users`, { email: `trace-${Date.now()}@example.com`, name: 'Traced' });
      assert.equal(res.status, 201);
      await waitFor('the welcome email', () => (smtp.received.length > 0 ? true : undefined), 15_000);

      const server = await waitFor('the server span', () => receiver.spans.find((s) => s.name === 'POST /users'), 10_000);
      const inTrace = () => receiver.spans.filter((s) => s.traceId === server.traceId);
      const send = await waitFor('the SMTP span', () => inTrace().find((s) => s.name === 'smtp send'), 10_000);
      const spans = inTrace();
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      const one = (name: string): ReceivedSpan => {
        const found = spans.filter((s) => s.name === name);
        assert.equal(found.length, 1, `one ${name} span in the trace, got ${spans.map((s) => s.name).join(', ')}`);
        return found[0];
      };
      const parentOf = (span: ReceivedSpan) => byId.get(span.parentSpanId);

      assert.equal(server.parentSpanId, '', 'the server span is the root');
      assert.equal(server.kind, 2, 'SERVER');
      assert.equal(server.service, 'api-under-test');
      assert.equal(server.attributes['http.route'], '/users');
      const handler = one('UsersController.create');
      assert.equal(handler.parentSpanId, server.spanId);
      // The user and its outbox message are one statement (a data-modifying WITH), so one span.
      const insert = one('INSERT users');
      assert.equal(insert.parentSpanId, handler.spanId, 'the insert under the handler');
      assert.equal(insert.kind, 3, 'CLIENT');
      assert.equal(insert.attributes['db.system.name'], 'postgresql');
      assert.match(String(insert.attributes['db.query.text']), /INSERT INTO outbox .*INSERT INTO users/s);
      assert.ok(!spans.some((s) => s.name === 'INSERT outbox'), 'no separate outbox insert');
      const emit = spans.find((s) => s.attributes['messaging.system'] === 'socket.io');
      assert.equal(
        emit?.parentSpanId,
        handler.spanId,
        `the Socket.IO emit under the handler; spans: ${spans.map((s) => s.name).join(', ')}`,
      );
      const relay = one('outbox relay email.welcome');
      assert.equal(relay.parentSpanId, handler.spanId, 'the relay continues the request that wrote the row');
      assert.equal(relay.kind, 4, 'PRODUCER');
      // The job, possibly after retries: every attempt a child of the hand-over.
      const job = spans.find((s) => s.name === 'email process' && s.spanId === send.parentSpanId);
      assert.ok(job, 'the SMTP send runs inside a job attempt');
      assert.equal(job.parentSpanId, relay.spanId, 'the job continues the hand-over that queued it');
      assert.equal(job.kind, 5, 'CONSUMER');
      assert.equal(parentOf(send)?.name, 'email process');
      // ioredis' spans of the hand-over (BullMQ's add) sit under the relay too.
      assert.ok(
        spans.some((s) => s.attributes['db.system.name'] === 'redis' || s.attributes['db.system'] === 'redis'),
        'Redis commands traced',
      );
      assert.ok(
        spans.every((s) => s === server || byId.has(s.parentSpanId)),
        'every span hangs off the request, none orphaned',
      );

      const exemplar = await waitFor(
        'the request exemplar in Prometheus',
        async () => {
          const series = await queryExemplars(prometheus.url, 'http_request_duration_seconds_bucket{route="/users"}');
          return series.flatMap((s) => s.exemplars).find((e) => e.labels.trace_id === server.traceId);
        },
        20_000,
      );
      assert.ok(Number(exemplar.value) > 0);
      const jobExemplar = await waitFor(
        'the job exemplar in Prometheus',
        async () => {
          const series = await queryExemplars(prometheus.url, 'queue_job_duration_seconds_bucket{queue="email"}');
          return series.flatMap((s) => s.exemplars).find((e) => e.labels.trace_id === server.traceId);
        },
        20_000,
      );
      assert.ok(jobExemplar);

      const lines = logLines(running.api.output());
      const access = lines.find((l) => l.msg === 'request' && l.route === '/users' && l.method === 'POST');
      assert.equal(access?.trace_id, server.traceId, 'the access log line names the trace');
      assert.match(String(access?.span_id), /^[0-9a-f]{16}$/);
      const completed = lines.find((l) => l.msg === 'job completed');
      assert.equal(completed?.trace_id, server.traceId, 'the job log line names the trace');
      assert.ok(byId.has(String(completed?.span_id)), 'and a span of it');
      assert.ok(
        receiver.contentTypes.every((t) => t.startsWith('application/json')),
        'http/json, as configured',
      );
    } finally {
      await prometheus.close();
      await running.stop();
    }
  });

  it('PGlite, the in-process queue and Fastify: the same tree, the queries traced through the same Database port', async () => {
    const running = await startTracedApi(
      receiver,
      smtp,
      { OTEL_TRACES_EXPORTER: 'otlp', OTEL_SERVICE_NAME: 'api-embedded' },
      'embedded',
      'fastify',
    );
    try {
      const res = await postJson(`${running.url}/users`, { email: `pglite-${Date.now()}@example.com`, name: 'Embedded' });
      assert.equal(res.status, 201);
      const id = ((await res.json()) as { id: string }).id;
      assert.equal((await fetch(`${running.url}/users/${id}`)).status, 200);
      const server = await waitFor(
        'the server span',
        () => receiver.spans.find((s) => s.service === 'api-embedded' && s.name === 'POST /users'),
        10_000,
      );
      const send = await waitFor(
        'the SMTP span',
        () => receiver.spans.find((s) => s.traceId === server.traceId && s.name === 'smtp send'),
        15_000,
      );
      const spans = receiver.spans.filter((s) => s.traceId === server.traceId);
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      const handler = spans.find((s) => s.name === 'UsersController.create');
      assert.equal(handler?.parentSpanId, server.spanId);
      const insert = spans.find((s) => s.name === 'INSERT users');
      assert.equal(insert?.parentSpanId, handler?.spanId);
      assert.equal(insert?.attributes['db.system.name'], 'pglite');
      const job = byId.get(send.parentSpanId);
      assert.equal(job?.name, 'email process');
      assert.equal(byId.get(job?.parentSpanId ?? '')?.name, 'outbox relay email.welcome');
      const get = await waitFor(
        'the GET span',
        () => receiver.spans.find((s) => s.service === 'api-embedded' && s.name === 'GET /users/:id'),
        10_000,
      );
      assert.equal(get.attributes['http.route'], '/users/:id', 'named by the route template, not the URL');
      assert.ok(receiver.spans.some((s) => s.traceId === get.traceId && s.name === 'UsersController.get'));
    } finally {
      await running.stop();
    }
  });

  it('a sign-up during a Redis outage, relayed by the next instance after a restart, is still one trace', async () => {
    const deadRedis = `redis://127.0.0.1:${await freePort()}`;
    const first = await startTracedApi(receiver, smtp, { OTEL_TRACES_EXPORTER: 'otlp', REDIS_URL: deadRedis });
    let database: Record<string, string> = {};
    let serverSpan: ReceivedSpan | undefined;
    const email = `outage-${Date.now()}@example.com`;
    try {
      assert.equal((await postJson(`${first.url}/users`, { email, name: 'Outage' })).status, 201, 'the sign-up needs no Redis');
      serverSpan = await waitFor(
        'the server span',
        () =>
          receiver.spans.find(
            (s) =>
              s.name === 'POST /users' &&
              s.service === 'obsnest-api' &&
              !receiver.spans.some((o) => o.traceId === s.traceId && o.name === 'smtp send'),
          ),
        10_000,
      );
      database = { DATABASE_URL: first.env.DATABASE_URL as string, QUEUE_PREFIX: first.env.QUEUE_PREFIX as string };
    } finally {
      await first.stop(true);
    }
    const traceId = serverSpan.traceId;
    assert.ok(!receiver.spans.some((s) => s.traceId === traceId && s.name === 'email process'), 'no job while Redis is down');
    const sent = smtp.received.length;
    const second = await startTracedApi(receiver, smtp, { OTEL_TRACES_EXPORTER: 'otlp', ...database });
    try {
      await waitFor(
        'the welcome email, after the restart',
        () => (smtp.received.slice(sent).some((m) => m.to.includes(email)) ? true : undefined),
        20_000,
      );
      const send = await waitFor(
        'the SMTP span in the sign-up trace',
        () => receiver.spans.find((s) => s.traceId === traceId && s.name === 'smtp send'),
        10_000,
      );
      const spans = receiver.spans.filter((s) => s.traceId === traceId);
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      const handler = spans.find((s) => s.name === 'UsersController.create');
      assert.ok(handler);
      const relays = spans.filter((s) => s.name === 'outbox relay email.welcome');
      assert.ok(relays.length >= 2, 'failed hand-overs during the outage, then the one that worked, all in the trace');
      for (const relay of relays) assert.equal(relay.parentSpanId, handler.spanId, 'every hand-over continues the request');
      const job = byId.get(send.parentSpanId);
      assert.equal(job?.name, 'email process');
      assert.equal(byId.get(job?.parentSpanId ?? '')?.name, 'outbox relay email.welcome', 'the job under the hand-over that queued it');
    } finally {
      await second.stop();
    }
  });

  it('tracing off (the default): no span, no exemplar, no trace id in the logs', async () => {
    const before = receiver.spans.length;
    const requestsBefore = receiver.contentTypes.length;
    const sent = smtp.received.length;
    const running = await startTracedApi(receiver, smtp, {});
    try {
      assert.equal((await postJson(`${running.url}/users`, { email: `off-${Date.now()}@example.com`, name: 'Off' })).status, 201);
      await waitFor('the welcome email', () => (smtp.received.length > sent ? true : undefined), 15_000);
      const om = await fetch(`${running.url}/metrics`, { headers: { accept: 'application/openmetrics-text;version=1.0.0' } });
      const body = await om.text();
      assert.match(body, /^http_request_duration_seconds_bucket\{.*route="\/users".*\} 1$/m, 'the request is counted');
      assert.doesNotMatch(body, / # \{/, 'no exemplar');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(receiver.spans.length, before, 'no span exported');
      assert.equal(receiver.contentTypes.length, requestsBefore, 'no export attempted');
      const lines = logLines(running.api.output());
      assert.ok(lines.some((l) => l.msg === 'request' && l.route === '/users'));
      assert.ok(
        lines.every((l) => !('trace_id' in l)),
        'no trace ids in the logs',
      );
    } finally {
      await running.stop();
    }
  });
});
