import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WATCHDOG_ALERT } from '../grafana/src/objectives.js';
import { startAlertmanager, startAlertSink } from './support/alerting.js';
import { ALERTMANAGER_CONFIG, ALERTMANAGER_DIR } from './support/paths.js';
import { waitFor } from './support/service.js';
import { readYaml } from './support/rules.js';
import { cleanEnv, output, run } from './support/run.js';
import { useTempDir } from './support/temp.js';

const RENDER_SCRIPT = join(ALERTMANAGER_DIR, 'render-config.sh');
const PLACEHOLDER = 'http://alertmanager-webhook.invalid/set-ALERT_WEBHOOK_URL';

interface InhibitRule {
  source_matchers: string[];
  target_matchers: string[];
  equal: string[];
}

/** Runs render-config.sh as the container entrypoint would, writing to `output`. */
function render(outputFile: string, env: Record<string, string>, command: readonly string[] = []) {
  return run('sh', [RENDER_SCRIPT, ...command], {
    env: cleanEnv({ ALERTMANAGER_CONFIG_TEMPLATE: ALERTMANAGER_CONFIG, ALERTMANAGER_CONFIG: outputFile, ...env }),
  });
}

/** The receivers amtool resolves for an alert with these labels, e.g. "slack,webhook". */
async function receiversFor(labels: Record<string, string>): Promise<string> {
  const args = Object.entries(labels).map(([name, value]) => `${name}=${value}`);
  const result = await run('amtool', ['config', 'routes', 'test', `--config.file=${ALERTMANAGER_CONFIG}`, ...args]);
  assert.equal(result.code, 0, output(result));
  return result.stdout.trim();
}

describe('alertmanager.yml', () => {
  const tempDir = useTempDir('alertmanager');

  it('passes amtool check-config', async () => {
    const result = await run('amtool', ['check-config', ALERTMANAGER_CONFIG]);
    assert.equal(result.code, 0, output(result));
  });

  it('fails amtool check-config when a route names an unknown receiver', async () => {
    const broken = join(tempDir(), 'broken.yml');
    await writeFile(broken, readFileSync(ALERTMANAGER_CONFIG, 'utf8').replace('receiver: blackhole', 'receiver: nowhere'));
    const result = await run('amtool', ['check-config', broken]);
    assert.notEqual(result.code, 0, output(result));
  });

  it('routes by severity, the Watchdog apart, and Slack or email only on request', async () => {
    assert.equal(await receiversFor({ alertname: 'ApiTargetDown', severity: 'critical' }), 'webhook');
    assert.equal(await receiversFor({ alertname: 'QueueBacklogGrowing', severity: 'warning' }), 'webhook');
    assert.equal(await receiversFor({ alertname: 'Something', severity: 'info' }), 'blackhole');
    assert.equal(await receiversFor({ alertname: WATCHDOG_ALERT, severity: 'info' }), 'watchdog');
    assert.equal(await receiversFor({ alertname: 'ApiTargetDown', severity: 'critical', notify: 'slack' }), 'slack,webhook');
    assert.equal(await receiversFor({ alertname: 'HostDiskSpaceLow', severity: 'warning', notify: 'email' }), 'email,webhook');
  });

  it('lets a critical alert hide the warning of the same alert and target, and a down target hide the rest', () => {
    const rules = readYaml<{ inhibit_rules: InhibitRule[] }>(ALERTMANAGER_CONFIG).inhibit_rules;
    const severity = rules.find((rule) => rule.source_matchers.includes('severity="critical"'));
    assert.ok(severity, 'no inhibition from critical alerts');
    assert.deepEqual(severity.target_matchers, ['severity=~"warning|info"']);
    for (const label of ['alertname', 'job', 'instance']) assert.ok(severity.equal.includes(label), `equal lacks ${label}`);
    const targetDown = rules.find((rule) => rule.source_matchers.some((matcher) => matcher.includes('TargetDown')));
    assert.ok(targetDown, 'no inhibition from target-down alerts');
    assert.deepEqual(targetDown.equal, ['job', 'instance']);
  });

  it('keeps the webhook URL out of the file: one placeholder, substituted at start-up', () => {
    const config = readFileSync(ALERTMANAGER_CONFIG, 'utf8');
    assert.equal(config.split(PLACEHOLDER).length - 1, 1);
    assert.doesNotMatch(config, /hooks\.slack\.com|api_url:|auth_password:/);
  });
});

describe('render-config.sh', () => {
  const tempDir = useTempDir('render');

  it('substitutes ALERT_WEBHOOK_URL into a valid, private configuration and runs the command', async () => {
    const rendered = join(tempDir(), 'out', 'alertmanager.yml');
    const url = 'https://hooks.example.com/services/T000/B000?token=a&b=1';
    const result = await render(rendered, { ALERT_WEBHOOK_URL: url }, ['amtool', 'check-config', rendered]);
    assert.equal(result.code, 0, output(result));
    const content = await readFile(rendered, 'utf8');
    assert.ok(content.includes(`url: '${url}'`));
    assert.ok(!content.includes(PLACEHOLDER));
    assert.equal((await stat(rendered)).mode & 0o077, 0, 'the rendered file holds a secret: owner only');
  });

  it('prefers ALERT_WEBHOOK_URL_FILE', async () => {
    const urlFile = join(tempDir(), 'webhook-url');
    await writeFile(urlFile, 'https://from-file.example.com/hook\n');
    const rendered = join(tempDir(), 'from-file.yml');
    const result = await render(rendered, { ALERT_WEBHOOK_URL_FILE: urlFile, ALERT_WEBHOOK_URL: 'https://ignored.example.com/' });
    assert.equal(result.code, 0, output(result));
    assert.ok((await readFile(rendered, 'utf8')).includes("url: 'https://from-file.example.com/hook'"));
  });

  it('keeps the placeholder, with a warning, when no URL is set', async () => {
    const rendered = join(tempDir(), 'unset.yml');
    const result = await render(rendered, {});
    assert.equal(result.code, 0, output(result));
    assert.match(result.stderr, /no webhook URL set/);
    assert.ok((await readFile(rendered, 'utf8')).includes(PLACEHOLDER));
  });

  it('refuses a URL that could break out of the YAML string, or is no http(s) URL', async () => {
    for (const url of ["https://x.example.com/a'b", 'https://x.example.com/a b', 'ftp://x.example.com/']) {
      const result = await render(join(tempDir(), 'refused.yml'), { ALERT_WEBHOOK_URL: url });
      assert.notEqual(result.code, 0, `${url} was accepted`);
    }
  });
});

describe('alert delivery', () => {
  it('goes from a real Alertmanager, with the rendered configuration, to the alert sink', async () => {
    const sink = await startAlertSink();
    let alertmanager: Awaited<ReturnType<typeof startAlertmanager>> | undefined;
    try {
      const rendered = join(sink.dir, 'alertmanager.yml');
      const result = await render(rendered, { ALERT_WEBHOOK_URL: `${sink.url}/` });
      assert.equal(result.code, 0, output(result));
      alertmanager = await startAlertmanager(await readFile(rendered, 'utf8'));
      await alertmanager.postAlerts([
        {
          labels: { alertname: 'ApiTargetDown', severity: 'critical', job: 'api', instance: 'api:3000' },
          annotations: { summary: 'API instance api:3000 cannot be scraped' },
        },
      ]);
      // Critical alerts wait 10 s (group_wait) before the first notification.
      await waitFor(() => sink.logs().includes('"alertname":"ApiTargetDown"'), 30_000);
      const line = sink
        .logs()
        .split('\n')
        .find((entry) => entry.includes('"alertname":"ApiTargetDown"'));
      assert.ok(line, `the sink received nothing:\n${sink.logs()}\n${alertmanager.logs()}`);
      assert.deepEqual((({ receiver, status, severity, summary }) => ({ receiver, status, severity, summary }))(JSON.parse(line)), {
        receiver: 'webhook',
        status: 'firing',
        severity: 'critical',
        summary: 'API instance api:3000 cannot be scraped',
      });
    } finally {
      await alertmanager?.stop();
      await sink.stop();
    }
  });
});

describe('webhook-sink.mjs', () => {
  it('answers health checks, logs each alert of a notification and rejects what is not JSON', async () => {
    const sink = await startAlertSink();
    try {
      const notification = {
        receiver: 'webhook',
        status: 'firing',
        alerts: [
          { status: 'firing', labels: { alertname: 'A', severity: 'warning' }, annotations: { summary: 'first' } },
          { status: 'resolved', labels: { alertname: 'B', severity: 'critical' }, annotations: { summary: 'second' } },
        ],
      };
      const posted = await fetch(sink.url, { method: 'POST', body: JSON.stringify(notification) });
      assert.equal(posted.status, 200);
      await waitFor(() => sink.logs().includes('"alertname":"B"'), 5000);
      const lines = sink
        .logs()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { alertname: string; status: string; summary: string });
      assert.deepEqual(
        lines.map(({ alertname, status, summary }) => ({ alertname, status, summary })),
        [
          { alertname: 'A', status: 'firing', summary: 'first' },
          { alertname: 'B', status: 'resolved', summary: 'second' },
        ],
      );
      assert.equal((await fetch(sink.url, { method: 'POST', body: 'not json' })).status, 400);
      assert.equal((await fetch(sink.url, { method: 'PUT' })).status, 405);
    } finally {
      await sink.stop();
    }
  });
});
