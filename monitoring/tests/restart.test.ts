import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '@obsnest/testkit';
import { JOBS } from '../grafana/src/scrape-targets.js';
import { renderPrometheusConfig } from '../runtime/prometheus-config.js';
import { ApiProcess, eventually, renderTestAlertmanagerConfig, startWebhookReceiver } from './support/live.js';
import { type RestartableProcess, restartableAlertmanager, restartablePrometheus } from './support/restartable.js';
import { teardown } from './support/service.js';

/**
 * Monitoring is restarted (an upgrade, a configuration change, a crash) while the API serves:
 * the API does not notice, Prometheus comes back with every sample it had (the head block is
 * rebuilt from its write-ahead log, after a SIGTERM and after a SIGKILL alike), and Alertmanager
 * comes back with its silences (it snapshots them into --storage.path when it shuts down).
 *
 * The real binaries and the built API (embedded database), on free loopback ports; Prometheus
 * scrapes every second with the project's prometheus.yml rendered as the native stack renders it.
 */

type RawSamples = [number, string][];

interface QueryAnswer {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value?: [number, string]; values?: RawSamples }[] };
}

async function query(baseUrl: string, expr: string, time: number): Promise<NonNullable<QueryAnswer['data']>> {
  const body = new URLSearchParams({ query: expr, time: String(time) });
  const response = await fetch(`${baseUrl}/api/v1/query`, { method: 'POST', body, signal: AbortSignal.timeout(10_000) });
  const answer = (await response.json()) as QueryAnswer;
  if (answer.status !== 'success' || !answer.data) throw new Error(`${expr}: ${answer.error ?? answer.status}`);
  return answer.data;
}

/** The raw samples of the one series `selector` matches, as stored, in the 10 minutes up to `time`. */
async function rawSamples(baseUrl: string, selector: string, time: number): Promise<RawSamples> {
  const data = await query(baseUrl, `${selector}[10m]`, time);
  assert.equal(data.result.length, 1, `${selector} matches one series`);
  return data.result[0]?.values ?? [];
}

const nowSeconds = () => Date.now() / 1000;

/**
 * Reads and readiness probes, back to back until stopped; every answer is recorded. Reads only:
 * what is under test is the monitoring side, and a read touches the database and the metrics
 * middleware as much as a write does.
 */
function steadyTraffic(url: string) {
  const failures: string[] = [];
  let requests = 0;
  let answered = 0;
  let running = true;
  const one = async (path: string) => {
    requests++;
    try {
      // Generous: the machine may be busy with other test files; a slow answer is not the point.
      const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
      await response.arrayBuffer();
      if (response.status === 200) answered++;
      else failures.push(`${new Date().toISOString()} GET ${path}: ${response.status}`);
    } catch (error) {
      failures.push(`${new Date().toISOString()} GET ${path}: ${(error as Error).message}`);
    }
  };
  const done = (async () => {
    while (running) {
      await Promise.all([one('/users?limit=5'), one('/health/ready')]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    failures,
    get requests() {
      return requests;
    },
    /** Resolves once `n` more requests have been answered 200 from now. */
    answers: (n: number) => {
      const target = answered + n;
      return eventually(`${n} answers from the API`, () => answered >= target, 30_000, 20);
    },
    stop: async () => {
      running = false;
      await done;
    },
  };
}

describe('Prometheus or Alertmanager restarted', { timeout: 120_000 }, () => {
  let dir: string;
  let api: ApiProcess | undefined;
  let prometheus: RestartableProcess | undefined;
  let alertmanager: RestartableProcess | undefined;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>> | undefined;
  let traffic: ReturnType<typeof steadyTraffic> | undefined;
  let promUrl: string;
  let amUrl: string;
  const apiUp = `up{job="${JOBS.api}"}`;
  /** A counter the steady traffic moves every scrape, so its samples differ one from the next. */
  const counter = `http_requests_total{job="${JOBS.api}",method="GET",route="/users",status_code="200"}`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'obsnest-restart-'));
    const [apiPort, promPort, amPort] = [await freePort(), await freePort(), await freePort()];
    promUrl = `http://127.0.0.1:${promPort}`;
    amUrl = `http://127.0.0.1:${amPort}`;
    api = new ApiProcess({ NODE_ENV: 'test', DATA_DIR: join(dir, 'api-data'), LOG_LEVEL: 'info' }, apiPort);
    receiver = await startWebhookReceiver();
    alertmanager = await restartableAlertmanager(join(dir, 'alertmanager'), amPort, await renderTestAlertmanagerConfig(dir, receiver.url));
    prometheus = await restartablePrometheus(
      join(dir, 'prometheus'),
      promPort,
      renderPrometheusConfig({
        targets: {
          [JOBS.api]: [`127.0.0.1:${apiPort}`],
          [JOBS.prometheus]: [`127.0.0.1:${promPort}`],
          [JOBS.alertmanager]: [`127.0.0.1:${amPort}`],
        },
        dropJobs: [JOBS.node, JOBS.postgres, JOBS.redis],
        credentialsFile: null,
        alertmanagers: [`127.0.0.1:${amPort}`],
        scrapeInterval: '1s',
        evaluationInterval: '1s',
      }),
    );
    await Promise.all([api.start(), alertmanager.start(), prometheus.start()]);
    traffic = steadyTraffic(api.url);
    const prom = promUrl;
    await eventually(
      'five scrapes of the API with traffic counted three times',
      async () =>
        (await query(prom, `count_over_time(${apiUp}[1m])`, nowSeconds())).result.some((r) => Number(r.value?.[1]) >= 5) &&
        (await query(prom, `count_over_time(${counter}[1m])`, nowSeconds())).result.some((r) => Number(r.value?.[1]) >= 3),
      60_000,
    );
  });

  after(() =>
    teardown([
      () => traffic?.stop(),
      () => prometheus?.stop(),
      () => alertmanager?.stop(),
      () => api?.kill('SIGTERM'),
      () => receiver?.close(),
      () => (dir ? rm(dir, { recursive: true, force: true }) : undefined),
    ]),
  );

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`Prometheus stopped with ${signal} comes back on the same storage with every sample it had`, async () => {
      const prom = prometheus as RestartableProcess;
      const at = nowSeconds();
      const before = await rawSamples(promUrl, counter, at);
      const upBefore = await rawSamples(promUrl, apiUp, at);
      assert.ok(before.length >= 3 && upBefore.length >= 5, `samples before the restart: ${before.length} and ${upBefore.length}`);

      const exit = await prom.stop(signal);
      assert.equal(exit?.signal ?? null, signal === 'SIGKILL' ? 'SIGKILL' : null, `exit ${JSON.stringify(exit)}`);
      if (signal === 'SIGTERM') assert.equal(exit?.code, 0, prom.logs());
      // Down long enough for the API to serve without it.
      await (traffic as ReturnType<typeof steadyTraffic>).answers(4);
      const restartedAt = nowSeconds();
      await prom.start();

      // The same window, evaluated at the same instant: nothing lost, nothing changed.
      assert.deepEqual(await rawSamples(promUrl, counter, at), before, 'counter samples from before the restart');
      assert.deepEqual(await rawSamples(promUrl, apiUp, at), upBefore, 'up samples from before the restart');
      const [firstTime, firstValue] = upBefore[0] as [number, string];
      const atFirst = await query(promUrl, apiUp, firstTime);
      assert.equal(atFirst.result[0]?.value?.[1], firstValue, `up at ${firstTime}, before the restart`);
      // And it goes on scraping: samples after the restart join the ones before.
      await eventually(
        'a scrape after the restart',
        async () => (await rawSamples(promUrl, apiUp, nowSeconds())).some(([t]) => t > restartedAt),
        15_000,
      );
      const count = await query(promUrl, `count_over_time(${apiUp}[10m])`, nowSeconds());
      assert.ok(
        Number(count.result[0]?.value?.[1]) > upBefore.length,
        `count_over_time covers both sides: ${JSON.stringify(count.result)}`,
      );
      assert.doesNotMatch(prom.logs(), /corrupt/i);
    });
  }

  it('Alertmanager restarted on its storage keeps the silences created before', async () => {
    const am = alertmanager as RestartableProcess;
    const startsAt = new Date();
    const endsAt = new Date(startsAt.getTime() + 3_600_000);
    const created = await fetch(`${amUrl}/api/v2/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        matchers: [{ name: 'alertname', value: 'RestartTest', isRegex: false, isEqual: true }],
        startsAt: startsAt.toISOString(),
        endsAt: endsAt.toISOString(),
        createdBy: 'restart.test',
        comment: 'must survive a restart',
      }),
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(created.status, 200, await created.clone().text());
    const { silenceID } = (await created.json()) as { silenceID: string };

    const exit = await am.stop('SIGTERM');
    assert.equal(exit?.code, 0, am.logs());
    await (traffic as ReturnType<typeof steadyTraffic>).answers(4);
    await am.start();

    const response = await fetch(`${amUrl}/api/v2/silence/${silenceID}`, { signal: AbortSignal.timeout(5000) });
    assert.equal(response.status, 200, `silence ${silenceID} after the restart: ${await response.clone().text()}`);
    const silence = (await response.json()) as { id: string; comment: string; status: { state: string }; endsAt: string };
    assert.equal(silence.id, silenceID);
    assert.equal(silence.comment, 'must survive a restart');
    assert.equal(silence.status.state, 'active');
    assert.equal(new Date(silence.endsAt).getTime(), endsAt.getTime());
  });

  it('the API answered every request while Prometheus and Alertmanager restarted', async (t) => {
    const running = traffic as ReturnType<typeof steadyTraffic>;
    await running.stop();
    t.diagnostic(`${running.requests} requests, ${running.failures.length} failed`);
    assert.deepEqual(running.failures, [], `${running.failures.length} of ${running.requests} requests failed`);
    // Still scraped by the restarted Prometheus, and up.
    const up = await query(promUrl, apiUp, nowSeconds());
    assert.equal(up.result[0]?.value?.[1], '1');
  });
});
