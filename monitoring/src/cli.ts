#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG, defineConfig, type MixinConfig, type MixinConfigInput } from './config.js';
import { checkFiles, describeDrift, generateFiles, isUpToDate, writeFiles } from './generate.js';
import { PROMETHEUS_RULES_PATH, prometheusRulesFile } from './kubernetes.js';

const USAGE = `Usage: obsnest-monitoring generate --job <job> [options]

Writes the recording and alert rules, the runbook index, the Grafana dashboards with their
provisioning, and the Alertmanager routing and inhibition for one Prometheus job.

Options:
  --job <job>               Prometheus job of the application (required unless the config sets it)
  --runbook-base-url <url>  base of every alert's runbook_url (the alert name is appended)
  --out <dir>               output directory (default: monitoring)
  --config <file.js|.mjs>   module whose default export is a config object (merged into the
                            defaults) or a function (defaults) => config
  --prometheus-rule         also write kubernetes/prometheus-rules.yaml: the same rules as
                            prometheus-operator PrometheusRules (<job>-recording-rules, <job>-alerts)
  --prometheus-rule-label <key=value>
                            a label on them for the Prometheus ruleSelector (repeatable), e.g.
                            release=kube-prometheus-stack
  --check                   write nothing; exit 1 if the files in --out differ from the output
  -h, --help                show this help`;

class UsageError extends Error {}

type ConfigModule = { default?: unknown; config?: unknown };

async function loadConfig(file: string | undefined): Promise<MixinConfigInput> {
  if (!file) return {};
  const module = (await import(pathToFileURL(resolve(file)).href)) as ConfigModule;
  const exported = module.default ?? module.config;
  if (exported === undefined) throw new UsageError(`${file} has no default export (or \`config\` export)`);
  const value = typeof exported === 'function' ? await (exported as (base: MixinConfig) => unknown)(DEFAULT_CONFIG) : exported;
  if (value === null || typeof value !== 'object') throw new UsageError(`${file} must export a config object`);
  return value as MixinConfigInput;
}

export async function run(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals[0] !== 'generate' || positionals.length > 1) {
    console.error(USAGE);
    return 2;
  }
  try {
    const fromFile = await loadConfig(values.config);
    const job = values.job ?? fromFile.job;
    if (!job) throw new UsageError('--job is required (or a config file that sets `job`)');
    const config = defineConfig({
      ...fromFile,
      job,
      ...(values['runbook-base-url'] ? { runbookBaseUrl: values['runbook-base-url'] } : {}),
    });
    const out = resolve(values.out ?? 'monitoring');
    const files = generateFiles(config);
    const labels = (values['prometheus-rule-label'] ?? []).map((pair) => {
      const match = /^([A-Za-z0-9][A-Za-z0-9_./-]*)=([A-Za-z0-9_.-]*)$/.exec(pair);
      if (!match) throw new UsageError(`--prometheus-rule-label ${pair}: expected key=value, a Kubernetes label`);
      return [match[1] as string, match[2] as string] as const;
    });
    if (labels.length > 0 && !values['prometheus-rule']) throw new UsageError('--prometheus-rule-label needs --prometheus-rule');
    if (values['prometheus-rule']) files.set(PROMETHEUS_RULES_PATH, prometheusRulesFile(config, files, Object.fromEntries(labels)));
    if (values.check) {
      const report = checkFiles(out, files);
      if (isUpToDate(report)) {
        console.log(`${out} is up to date for job ${config.job}`);
        return 0;
      }
      for (const line of describeDrift(report)) console.error(line);
      return 1;
    }
    for (const file of writeFiles(out, files)) console.log(`wrote ${resolve(out, file)}`);
    return 0;
  } catch (error) {
    console.error(`obsnest-monitoring: ${(error as Error).message}`);
    return error instanceof UsageError ? 2 : 1;
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      job: { type: 'string' },
      'runbook-base-url': { type: 'string' },
      out: { type: 'string' },
      config: { type: 'string' },
      check: { type: 'boolean' },
      'prometheus-rule': { type: 'boolean' },
      'prometheus-rule-label': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

// Run when executed, directly or through npm's bin link (a symlink), not when imported.
const invoked = process.argv[1] ? pathToFileURL(realpathSync(process.argv[1])).href : '';
if (invoked === import.meta.url) {
  process.exitCode = await run(process.argv.slice(2));
}
