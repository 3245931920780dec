import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { METRICS } from '@obsnest/observability';
import { parse, parseAllDocuments } from 'yaml';
import { defineConfig, type MixinExtension } from '../src/config.js';
import { checkFiles, generateFiles, isUpToDate, OUTPUT_PATHS, ruleSet, writeFiles } from '../src/generate.js';
import { PROMETHEUS_RULES_PATH } from '../src/kubernetes.js';
import { checkRepoFiles } from '../src/repo/generate.js';
import { panelsOf } from '../grafana/src/dashboards.js';
import { compare, selector } from '../grafana/src/promql.js';
import { MONITORING_DIR } from './support/paths.js';
import { output, run } from './support/run.js';
import { withTempDir } from './support/temp.js';

const CLI = join(MONITORING_DIR, 'dist', 'src', 'cli.js');

describe('generated monitoring files', () => {
  it('are committed exactly as the generator writes them for job api (npm run monitoring:generate)', () => {
    const report = checkRepoFiles();
    assert.ok(isUpToDate(report), `out of date: ${JSON.stringify(report)}; run npm run monitoring:generate`);
  });

  it('drift is detected: changed, missing and stray files', async () => {
    await withTempDir('drift', async (dir) => {
      const files = generateFiles(defineConfig({ job: 'shop' }));
      writeFiles(dir, files);
      assert.ok(isUpToDate(checkFiles(dir, files)));
      await writeFile(join(dir, OUTPUT_PATHS.alertRules), 'groups: []\n');
      await rm(join(dir, OUTPUT_PATHS.dashboardsDir, 'slo-alerts.json'));
      await writeFile(join(dir, OUTPUT_PATHS.dashboardsDir, 'stray.json'), '{}\n');
      assert.deepEqual(checkFiles(dir, files), {
        changed: [OUTPUT_PATHS.alertRules],
        missing: [`${OUTPUT_PATHS.dashboardsDir}/slo-alerts.json`],
        extra: [`${OUTPUT_PATHS.dashboardsDir}/stray.json`],
      });
    });
  });
});

const EMAILS_SENT = {
  name: 'emails_sent_total',
  type: 'counter',
  help: 'Emails handed to the mail transport, by transport.',
  labelNames: ['transport'],
} as const;
const SEND_DURATION = {
  name: 'email_send_duration_seconds',
  type: 'histogram',
  help: 'Time to hand one email to the transport.',
  labelNames: ['transport'],
  buckets: [0.1, 1],
  unit: 'seconds',
} as const;
const MAILBOX_BYTES = {
  name: 'mailbox_size_bytes',
  type: 'gauge',
  help: 'Size of the outgoing mailbox.',
  labelNames: [],
  unit: 'bytes',
} as const;

const dashboardOf = (files: Map<string, string>, uid: string) =>
  JSON.parse(files.get(`${OUTPUT_PATHS.dashboardsDir}/${uid}.json`) as string) as Dashboard;

describe('generated Alertmanager routing', () => {
  it('routes by the configured severities and receivers, and passes amtool', async () => {
    const config = defineConfig({
      alerting: {
        critical: { receiver: 'pager' },
        receivers: [
          { name: 'webhook', config: { webhook_configs: [{ url: 'https://hooks.example.com/a' }] } },
          { name: 'pager', config: { webhook_configs: [{ url: 'https://pager.example.com/b' }] } },
          { name: 'watchdog' },
          { name: 'blackhole' },
          { name: 'slack' },
          { name: 'email' },
        ],
      },
    });
    await withTempDir('routing', async (dir) => {
      writeFiles(dir, generateFiles(config));
      const file = join(dir, OUTPUT_PATHS.alertmanager);
      const check = await run('amtool', ['check-config', file]);
      assert.equal(check.code, 0, output(check));
      const route = async (...labels: string[]) => {
        const result = await run('amtool', ['config', 'routes', 'test', `--config.file=${file}`, ...labels]);
        assert.equal(result.code, 0, output(result));
        return result.stdout.trim();
      };
      assert.equal(await route('alertname=QueueStalled', 'severity=critical'), 'pager');
      assert.equal(await route('alertname=QueueBacklogGrowing', 'severity=warning'), 'webhook');
      assert.equal(await route('alertname=Watchdog', 'severity=info'), 'watchdog');
      assert.equal(await route('alertname=QueueStalled', 'severity=critical', 'notify=slack'), 'slack,pager');
    });
  });

  it('refuses a route to a receiver the config does not define', () => {
    assert.throws(() => defineConfig({ alerting: { warning: { receiver: 'nowhere' } } }), /unknown receiver "nowhere"/);
  });
});

describe('application metrics and extensions', () => {
  it('draw one panel per application metric, in its unit, in a row of their own', () => {
    const files = generateFiles(defineConfig({ job: 'mailer', applicationMetrics: [EMAILS_SENT, SEND_DURATION, MAILBOX_BYTES] }));
    const dashboard = dashboardOf(files, 'nestjs-backend');
    const rows = (dashboard.panels ?? []).filter((panel) => panel.type === 'row').map((panel) => panel.title);
    assert.deepEqual(rows, ['Runtime', 'Application metrics']);
    const panels = Object.fromEntries(panelsOf(dashboard).map((panel) => [panel.title, panel]));
    const exprs = (title: string) => ((panels[title]?.targets ?? []) as { expr: string }[]).map((target) => target.expr);
    assert.deepEqual(exprs('emails_sent_total'), [
      'sum by (transport) (rate(emails_sent_total{job="$job", instance=~"$instance"}[$__rate_interval]))',
    ]);
    assert.deepEqual(exprs('email_send_duration_seconds'), [
      'histogram_quantile(0.5, sum by (le, transport) (rate(email_send_duration_seconds_bucket{job="$job", instance=~"$instance"}[$__rate_interval])))',
      'histogram_quantile(0.95, sum by (le, transport) (rate(email_send_duration_seconds_bucket{job="$job", instance=~"$instance"}[$__rate_interval])))',
    ]);
    assert.deepEqual(exprs('mailbox_size_bytes'), ['sum(mailbox_size_bytes{job="$job", instance=~"$instance"})']);
    assert.equal(panels.emails_sent_total?.fieldConfig?.defaults.unit, 'ops');
    assert.equal(panels.email_send_duration_seconds?.fieldConfig?.defaults.unit, 's');
    assert.equal(panels.mailbox_size_bytes?.fieldConfig?.defaults.unit, 'bytes');
    assert.equal(panels.emails_sent_total?.description, `${EMAILS_SENT.help} Per second.`);
  });

  it("take the library contract's definitions as they are", () => {
    const dashboard = dashboardOf(generateFiles(defineConfig({ applicationMetrics: [METRICS.websocketConnections] })), 'nestjs-backend');
    assert.ok(panelsOf(dashboard).some((panel) => panel.title === METRICS.websocketConnections.name));
  });

  it('leave the row out when the application has no metrics of its own', () => {
    const dashboard = dashboardOf(generateFiles(defineConfig({ job: 'mailer' })), 'nestjs-backend');
    assert.ok(!(dashboard.panels ?? []).some((panel) => panel.title === 'Application metrics'));
  });

  it('add rules and panels through the extension hook, merged into the generated groups', () => {
    const extension: MixinExtension = {
      name: 'mail',
      ruleGroups: ({ jobMatcher }) => [
        {
          name: 'queue',
          rules: [
            {
              alert: 'MailboxTooLarge',
              expr: compare(selector(MAILBOX_BYTES.name, [jobMatcher]), '>', 1e9),
              for: '10m',
              severity: 'warning',
              summary: 'Mailbox of {{ $labels.instance }} is {{ $value | humanize1024 }}B',
              description: 'The outgoing mailbox of {{ $labels.instance }} keeps growing.',
              firstCheck: 'Is the transport reachable?',
            },
          ],
        },
        {
          name: 'mail',
          rules: [{ record: 'job:mailbox_size_bytes:max', expr: `max by (job) (${selector(MAILBOX_BYTES.name, [jobMatcher])})` }],
        },
      ],
      backendPanels: () => [],
    };
    const config = defineConfig({ job: 'mailer', extensions: [extension] });
    const { alerts, recording } = ruleSet(config);
    const queue = alerts.find((group) => group.name === 'queue');
    assert.equal(queue?.rules.at(-1)?.['alert' as never], 'MailboxTooLarge');
    assert.equal(alerts.filter((group) => group.name === 'queue').length, 1);
    assert.deepEqual(recording.at(-1), {
      name: 'mail',
      rules: [{ record: 'job:mailbox_size_bytes:max', expr: 'max by (job) (mailbox_size_bytes{job="mailer"})' }],
    });
    const files = generateFiles(config);
    assert.match(
      files.get(OUTPUT_PATHS.runbookIndex) as string,
      /\| MailboxTooLarge \| warning \| \S+#mailboxtoolarge \| Is the transport reachable\? \|/,
    );
  });

  it('refuse an extension alert that repeats a name at the same severity', () => {
    const twice: MixinExtension = {
      name: 'twice',
      ruleGroups: () => [
        {
          name: 'api',
          rules: [
            {
              alert: 'ApiTargetDown',
              expr: 'vector(1)',
              for: '1m',
              severity: 'critical',
              summary: 's',
              description: 'd',
              firstCheck: 'f',
            },
          ],
        },
      ],
    };
    assert.throws(() => ruleSet(defineConfig({ extensions: [twice] })), /ApiTargetDown \(critical\) twice/);
  });
});

describe('obsnest-monitoring CLI', () => {
  it('generates for a job, base URL and config module given on the command line', async () => {
    await withTempDir('cli', async (dir) => {
      const configFile = join(dir, 'monitoring.config.mjs');
      await writeFile(
        configFile,
        `export default (defaults) => ({ thresholds: { errorRatio: 0.02 }, applicationMetrics: [${JSON.stringify(EMAILS_SENT)}] });\n`,
      );
      const out = join(dir, 'out');
      const args = [
        CLI,
        'generate',
        '--job',
        'billing',
        '--runbook-base-url',
        'https://wiki.example.com/runbooks/',
        '--out',
        out,
        '--config',
        configFile,
      ];
      const result = await run(process.execPath, args);
      assert.equal(result.code, 0, output(result));
      const alerts = readFileSync(join(out, OUTPUT_PATHS.alertRules), 'utf8');
      assert.match(alerts, /ratio_rate5m\{job="billing"\} > 0\.02/);
      assert.match(alerts, /runbook_url: https:\/\/wiki\.example\.com\/runbooks\/apitargetdown/);
      assert.match(readFileSync(join(out, OUTPUT_PATHS.dashboardsDir, 'nestjs-backend.json'), 'utf8'), /emails_sent_total/);
      const check = await run(process.execPath, [...args, '--check']);
      assert.equal(check.code, 0, output(check));
      await writeFile(join(out, OUTPUT_PATHS.alertmanager), '');
      const drifted = await run(process.execPath, [...args, '--check']);
      assert.equal(drifted.code, 1, output(drifted));
      assert.match(drifted.stderr, /out of date: alertmanager\/alertmanager\.yml/);
    });
  });

  it('writes PrometheusRules holding exactly the groups of the rule files for any job (--prometheus-rule)', async () => {
    await withTempDir('cli-k8s', async (dir) => {
      const args = [CLI, 'generate', '--job', 'payments', '--out', dir, '--prometheus-rule', '--prometheus-rule-label', 'release=kps'];
      const result = await run(process.execPath, args);
      assert.equal(result.code, 0, output(result));
      const objects = parseAllDocuments(readFileSync(join(dir, PROMETHEUS_RULES_PATH), 'utf8')).map((d) => d.toJS()) as {
        kind: string;
        metadata: { name: string; labels: Record<string, string> };
        spec: { groups: unknown[] };
      }[];
      assert.deepEqual(
        objects.map((o) => [o.kind, o.metadata.name, o.metadata.labels]),
        [
          ['PrometheusRule', 'payments-recording-rules', { 'app.kubernetes.io/name': 'payments', release: 'kps' }],
          ['PrometheusRule', 'payments-alerts', { 'app.kubernetes.io/name': 'payments', release: 'kps' }],
        ],
      );
      const groups = (path: string) => (parse(readFileSync(join(dir, path), 'utf8')) as { groups: unknown[] }).groups;
      assert.deepEqual(objects[0]?.spec.groups, groups(OUTPUT_PATHS.recordingRules));
      assert.deepEqual(objects[1]?.spec.groups, groups(OUTPUT_PATHS.alertRules));
      assert.match(JSON.stringify(objects[1]?.spec.groups), /job=\\"payments\\"/, 'the job is the one given');
      const check = await run(process.execPath, [...args, '--check']);
      assert.equal(check.code, 0, output(check));
      const label = await run(process.execPath, [CLI, 'generate', '--job', 'x', '--out', dir, '--prometheus-rule-label', 'a=b']);
      assert.equal(label.code, 2, output(label));
      assert.match(label.stderr, /--prometheus-rule-label needs --prometheus-rule/);
    });
    assert.equal(generateFiles(defineConfig({ job: 'payments' })).has(PROMETHEUS_RULES_PATH), false, 'only when asked for');
  });

  it('stops with the usage when --job is missing, and names what is wrong in a config', async () => {
    const missing = await run(process.execPath, [CLI, 'generate']);
    assert.equal(missing.code, 2, output(missing));
    assert.match(missing.stderr, /--job is required/);
    const invalid = await run(process.execPath, [CLI, 'generate', '--job', 'x', '--runbook-base-url', 'not a url']);
    assert.equal(invalid.code, 1, output(invalid));
    assert.match(invalid.stderr, /runbookBaseUrl "not a url" must be an http\(s\) URL/);
  });
});
