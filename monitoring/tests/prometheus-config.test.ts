import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { JOBS } from '../grafana/src/scrape-targets.js';
import { PROMETHEUS_CONFIG } from './support/paths.js';
import { startPrometheus } from './support/prometheus.js';
import { readPrometheusConfig, renderPrometheusConfig } from './support/prometheus-config.js';
import { output, run } from './support/run.js';
import { useTempDir } from './support/temp.js';

describe('prometheus.yml', () => {
  const tempDir = useTempDir('promtool');

  it('passes promtool check config as committed (compose flavour, syntax only)', async () => {
    // The token file only exists inside the Prometheus container; the full check is below.
    const result = await run('promtool', ['check', 'config', '--syntax-only', PROMETHEUS_CONFIG]);
    assert.equal(result.code, 0, output(result));
  });

  it('passes the full promtool check config, rule files included, once targets and paths are rewritten', async () => {
    const tokenFile = join(tempDir(), 'metrics_token');
    await writeFile(tokenFile, 'test-token-0123456789', { mode: 0o600 });
    const configFile = join(tempDir(), 'prometheus.yml');
    await writeFile(
      configFile,
      renderPrometheusConfig({ targets: { api: ['127.0.0.1:3000'], node: ['127.0.0.1:9100'] }, credentialsFile: tokenFile }),
    );
    const result = await run('promtool', ['check', 'config', configFile]);
    assert.equal(result.code, 0, output(result));
    assert.match(result.stdout, /SUCCESS: \d+ rules found/, 'the rule files must be found and checked');
  });

  it('fails promtool check config when the configuration is wrong', async () => {
    const broken = join(tempDir(), 'broken.yml');
    await writeFile(broken, renderPrometheusConfig({ credentialsFile: null }).replace('scrape_timeout: 5s', 'scrape_timeout: 30s'));
    const result = await run('promtool', ['check', 'config', '--syntax-only', broken]);
    assert.notEqual(result.code, 0, 'a scrape timeout longer than the interval must be rejected');
  });

  it("remote-writes to compose's long-term store, and a runtime copy only where it is told", () => {
    assert.deepEqual(readPrometheusConfig().remote_write, [{ url: 'http://victoria-metrics:8428/api/v1/write' }]);
    const bare = parse(renderPrometheusConfig({})) as { remote_write?: unknown };
    assert.equal(bare.remote_write, undefined, 'a native Prometheus without a store sends nowhere');
    const native = parse(renderPrometheusConfig({ remoteWrite: [{ url: 'http://127.0.0.1:8428/api/v1/write' }] })) as {
      remote_write?: unknown;
    };
    assert.deepEqual(native.remote_write, [{ url: 'http://127.0.0.1:8428/api/v1/write' }]);
  });

  it('scrapes exactly the jobs the dashboards and rules name', () => {
    const jobs = readPrometheusConfig().scrape_configs.map((job) => job.job_name);
    assert.deepEqual([...jobs].sort(), Object.values(JOBS).sort());
  });

  it('scrapes the API every 10 s at /metrics with a bearer token file, the rest every 15 s', () => {
    const config = readPrometheusConfig();
    assert.equal(config.global.scrape_interval, '15s');
    for (const job of config.scrape_configs) {
      if (job.job_name === JOBS.api) {
        assert.equal(job.scrape_interval, '10s');
        assert.equal(job.metrics_path, '/metrics');
        assert.equal(job.authorization?.type, 'Bearer');
        assert.ok(job.authorization?.credentials_file, 'the token must come from a file');
      } else {
        assert.equal(job.scrape_interval, undefined, `${job.job_name} should use the global 15 s`);
        assert.equal(job.authorization, undefined);
      }
      assert.equal(job.static_configs.length, 1, `${job.job_name}: one static_configs entry, easy to rewrite`);
      assert.ok(job.static_configs[0]?.targets.length, `${job.job_name} has targets`);
    }
  });

  it('loads every rule file and alerts through Alertmanager', () => {
    const config = readPrometheusConfig();
    assert.deepEqual(config.rule_files, ['rules/*.yml']);
    assert.deepEqual(config.alerting.alertmanagers[0]?.static_configs[0]?.targets, ['alertmanager:9093']);
  });

  it('strips the port from the instance label of infrastructure targets only', async () => {
    // As the relabelling of a real server applies it, read from its target list.
    const prometheus = await startPrometheus({
      config: renderPrometheusConfig({ credentialsFile: null, ruleFiles: [], alertmanagers: [] }),
    });
    try {
      const expected = {
        api: 'api:3000',
        prometheus: 'prometheus',
        alertmanager: 'alertmanager',
        node: 'node-exporter',
        postgres: 'postgres-exporter',
        redis: 'redis-exporter',
      };
      // Target discovery runs shortly after start-up: poll the target list until it is complete.
      let instances: Record<string, string | undefined> = {};
      for (let attempt = 0; attempt < 50 && Object.keys(instances).length < Object.keys(expected).length; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
        const response = await fetch(`${prometheus.url}/api/v1/targets`);
        const body = (await response.json()) as { data: { activeTargets: { labels: Record<string, string> }[] } };
        instances = Object.fromEntries(body.data.activeTargets.map((target) => [target.labels.job, target.labels.instance]));
      }
      assert.deepEqual(instances, expected);
    } finally {
      await prometheus.stop();
    }
  });
});
