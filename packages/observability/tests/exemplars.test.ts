import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppMetrics } from '../src/index.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const EXEMPLAR = / # \{trace_id="([0-9a-f]{32})"\} ([0-9.e-]+) (\d+(?:\.\d+)?)$/;

describe('exemplars', () => {
  it('with a trace id source: the request and job duration buckets carry trace_id exemplars in OpenMetrics only', async () => {
    let active: string | undefined = TRACE;
    const metrics = new AppMetrics({ appVersion: 't', defaultMetrics: false, exemplarTraceId: () => active });
    metrics.observeHttpRequest('POST', '/users', 201, 0.07);
    metrics.jobAttemptFinished('email', 0.3);
    active = undefined;
    metrics.observeHttpRequest('GET', '/users', 200, 0.07);

    const om = await metrics.render('openmetrics');
    const lines = om.split('\n').filter((l) => EXEMPLAR.test(l));
    const http = lines.filter((l) => l.startsWith('http_request_duration_seconds_bucket'));
    assert.equal(http.length, 1, om);
    assert.match(http[0], /^http_request_duration_seconds_bucket\{le="0\.1",method="POST",route="\/users",status_code="201"\} 1 # /);
    const [, traceId, value, timestamp] = EXEMPLAR.exec(http[0]) ?? [];
    assert.equal(traceId, TRACE);
    assert.equal(Number(value), 0.07);
    assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 60);
    const job = lines.filter((l) => l.startsWith('queue_job_duration_seconds_bucket'));
    assert.equal(job.length, 1, om);
    assert.match(job[0], /queue="email"/);
    assert.equal(EXEMPLAR.exec(job[0])?.[1], TRACE);

    assert.doesNotMatch(await metrics.render('text'), /#\s*\{/, 'the text format has no exemplar syntax');
  });

  it('without one (tracing off): no exemplar anywhere', async () => {
    const metrics = new AppMetrics({ appVersion: 't', defaultMetrics: false });
    metrics.observeHttpRequest('POST', '/users', 201, 0.07);
    metrics.jobAttemptFinished('email', 0.3);
    const om = await metrics.render('openmetrics');
    assert.match(om, /^queue_job_duration_seconds_count\{queue="email"\} 1$/m);
    assert.doesNotMatch(om, /#\s*\{/);
  });
});
