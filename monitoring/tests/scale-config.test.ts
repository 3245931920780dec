import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { renderHaproxyConfig } from '../runtime/scale.js';
import { renderPrometheusConfig } from './support/prometheus-config.js';
import { output, run } from './support/run.js';
import { useTempDir } from './support/temp.js';

/** The scaled-out configurations, checked by the engines' own validators (haproxy -c, promtool). */
describe('scaled-out configurations', () => {
  const tempDir = useTempDir('scale-config');

  it('haproxy.cfg for three replicas passes haproxy -c, with the sticky cookie and the readiness check', async () => {
    const text = renderHaproxyConfig({
      bind: { host: '127.0.0.1', port: 3000 },
      metrics: { host: '127.0.0.1', port: 8405 },
      replicas: [1, 2, 3].map((i) => ({ name: `api-${i}`, host: '127.0.0.1', port: 3100 + 2 * i, checkPort: 3101 + 2 * i })),
    });
    const file = join(tempDir(), 'haproxy.cfg');
    await writeFile(file, text);
    const result = await run('haproxy', ['-c', '-f', file]);
    assert.equal(result.code, 0, output(result));
    assert.match(text, /server api-2 127\.0\.0\.1:3104 cookie api-2 port 3105/);
    assert.match(text, /option httpchk GET \/health\/ready/);
    assert.match(text, /use-service prometheus-exporter/);
    // And haproxy -c can fail: a server line without an address is rejected.
    await writeFile(file, text.replace('127.0.0.1:3104', ''));
    assert.notEqual((await run('haproxy', ['-c', '-f', file])).code, 0);
  });

  it('a Prometheus replica: file_sd for the api job, the replica label, remote_write without it; promtool accepts it', async () => {
    const targets = join(tempDir(), 'api-targets.json');
    await writeFile(targets, JSON.stringify([{ targets: ['127.0.0.1:3100', '127.0.0.1:3102'], labels: {} }]));
    const text = renderPrometheusConfig({
      targets: { prometheus: ['127.0.0.1:9090', '127.0.0.1:9091'] },
      fileSd: { api: targets },
      credentialsFile: null,
      externalLabels: { replica: 'prometheus-2' },
      remoteWrite: [{ url: 'http://127.0.0.1:8428/api/v1/write', dropLabels: ['replica'] }],
      extraJobs: [{ job_name: 'haproxy', static_configs: [{ targets: ['127.0.0.1:8405'] }] }],
    });
    const config = parse(text) as {
      global: { external_labels: Record<string, string> };
      remote_write: { url: string; write_relabel_configs: { action: string; regex: string }[] }[];
      scrape_configs: { job_name: string; file_sd_configs?: unknown; static_configs?: unknown; relabel_configs?: unknown }[];
    };
    assert.deepEqual(config.global.external_labels, { replica: 'prometheus-2' });
    assert.deepEqual(config.remote_write[0]?.write_relabel_configs, [{ action: 'labeldrop', regex: 'replica' }]);
    const job = (name: string) => config.scrape_configs.find((j) => j.job_name === name);
    assert.deepEqual(job('api')?.file_sd_configs, [{ files: [targets] }]);
    assert.equal(job('api')?.static_configs, undefined);
    assert.equal(job('prometheus')?.relabel_configs, undefined, 'two targets on one host keep the port in instance');
    assert.ok(job('haproxy'));
    const file = join(tempDir(), 'prometheus.yml');
    await writeFile(file, text);
    const result = await run('promtool', ['check', 'config', file]);
    assert.equal(result.code, 0, output(result));
  });
});
