import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT } from './support/paths.js';
import { output, run } from './support/run.js';
import { useTempDir } from './support/temp.js';

/**
 * The packed mixin, as a user gets it: `npm pack -w monitoring`, installed alone in an empty
 * folder outside the repository (no workspace, no @obsnest/observability), then its CLI run for
 * a job of another name.
 */

const BASE = 'https://runbooks.example.com/x';
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

interface PackResult {
  filename: string;
  size: number;
  files: { path: string }[];
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('the packed @obsnest/monitoring', () => {
  const tempDir = useTempDir('mixin-package');
  let packed: PackResult;
  let app: string;
  let out: string;

  before(async () => {
    const pack = await run('npm', ['pack', '-w', 'monitoring', '--json', '--pack-destination', tempDir()], {
      cwd: REPO_ROOT,
      timeoutMs: 240_000,
    });
    assert.equal(pack.code, 0, output(pack));
    packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as PackResult[])[0] as PackResult;
    app = join(tempDir(), 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(tempDir(), packed.filename)], {
      cwd: app,
      timeoutMs: 240_000,
    });
    assert.equal(install.code, 0, output(install));
    out = join(app, 'out');
    const generate = await run(
      join(app, 'node_modules', '.bin', 'obsnest-monitoring'),
      ['generate', '--job', 'payments', '--runbook-base-url', BASE, '--out', out],
      { cwd: app },
    );
    assert.equal(generate.code, 0, output(generate));
  });

  it('ships the bundles and declarations only, and installs without any other @obsnest package', () => {
    const paths = packed.files.map((file) => file.path);
    assert.ok(paths.includes('lib/cli.js') && paths.includes('lib/index.js') && paths.includes('lib/types/src/index.d.ts'), paths.join());
    assert.deepEqual(
      paths.filter((path) => !/^(lib\/|README\.md$|package\.json$)/.test(path)),
      [],
    );
    assert.deepEqual(readdirSync(join(app, 'node_modules', '@obsnest')), ['monitoring']);
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules', '@obsnest', 'monitoring', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    assert.deepEqual(Object.keys(manifest.dependencies).sort(), ['@grafana/grafana-foundation-sdk', 'yaml']);
  });

  it('generates rules that pass promtool check rules and a routing that passes amtool check-config', async () => {
    const rules = await run('promtool', [
      'check',
      'rules',
      join(out, 'prometheus/rules/recording.yml'),
      join(out, 'prometheus/rules/alerts.yml'),
    ]);
    assert.equal(rules.code, 0, output(rules));
    assert.match(rules.stdout, /SUCCESS: 26 rules found/);
    const routing = await run('amtool', ['check-config', join(out, 'alertmanager/alertmanager.yml')]);
    assert.equal(routing.code, 0, output(routing));
  });

  it('names the given job everywhere and never job api', () => {
    const files = filesUnder(out);
    assert.equal(files.length, 12, 'rules, alerts, runbook index, routing, 2 provisioning files, 3 Grafana and 3 Perses dashboards');
    for (const file of files) assert.doesNotMatch(readFileSync(file, 'utf8'), /job="api"|job!~"api|"api"/, file);
    const recording = readFileSync(join(out, 'prometheus/rules/recording.yml'), 'utf8');
    assert.ok(recording.split('job="payments"').length > 40);
  });

  it('gives every alert a runbook_url under the base, listed in the runbook index', () => {
    const alerts = (
      parse(readFileSync(join(out, 'prometheus/rules/alerts.yml'), 'utf8')) as {
        groups: { rules: { alert: string; annotations: { runbook_url: string } }[] }[];
      }
    ).groups.flatMap((group) => group.rules);
    assert.equal(alerts.length, 26);
    const index = readFileSync(join(out, 'prometheus/rules/RUNBOOK-INDEX.md'), 'utf8');
    for (const alert of alerts) {
      assert.ok(alert.annotations.runbook_url.startsWith(BASE), `${alert.alert}: ${alert.annotations.runbook_url}`);
      assert.ok(index.includes(`| ${alert.alert} |`), alert.alert);
    }
  });

  it('writes dashboards that parse, select the job by default, and their provisioning', () => {
    for (const file of ['nestjs-backend', 'infrastructure', 'slo-alerts']) {
      const dashboard = JSON.parse(readFileSync(join(out, 'grafana/dashboards', `${file}.json`), 'utf8')) as {
        uid: string;
        templating: { list: { name: string; current?: { value: string } }[] };
      };
      assert.equal(dashboard.uid, file);
      const job = dashboard.templating.list.find((variable) => variable.name === 'job');
      if (job) assert.equal(job.current?.value, 'payments');
    }
    const provider = parse(readFileSync(join(out, 'grafana/provisioning/dashboards/dashboards.yml'), 'utf8')) as {
      providers: { options: { path: string } }[];
    };
    assert.equal(provider.providers[0]?.options.path, '/var/lib/grafana/dashboards');
  });

  it('types its library API with declarations that need no unpublished package', async () => {
    await writeFile(
      join(app, 'consumer.ts'),
      [
        "import { defineConfig, generateFiles, type MixinExtension, promql } from '@obsnest/monitoring';",
        'const extension: MixinExtension = {',
        "  name: 'mail',",
        '  ruleGroups: ({ jobMatcher }) => [',
        "    { name: 'mail', rules: [{ alert: 'MailStuck', expr: promql.compare(promql.selector('mail_queue', [jobMatcher]), '>', 10),",
        "      for: '5m', severity: 'warning', summary: 's', description: 'd', firstCheck: 'f' }] },",
        '  ],',
        '};',
        "export const files: Map<string, string> = generateFiles(defineConfig({ job: 'mail', extensions: [extension] }));",
        '',
      ].join('\n'),
    );
    const options = ['--strict', '--noEmit', '--skipLibCheck', 'false', '--module', 'nodenext', '--moduleResolution', 'nodenext'];
    const check = await run(process.execPath, [TSC, ...options, '--target', 'es2023', '--types', '', 'consumer.ts'], { cwd: app });
    assert.equal(check.code, 0, output(check));
  });
});
