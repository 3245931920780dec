import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { basename, join } from 'node:path';
import { packageBin } from '@obsnest/testkit';
import { parse, stringify } from 'yaml';
import { ALERTMANAGER_CONFIG, ALERTMANAGER_RENDER_SCRIPT } from './paths.js';
import { readYaml, ruleFiles } from './rules.js';
import { cleanEnv, output, run } from './run.js';

/**
 * Pieces of the live tests: the real API as a process, the machine's PostgreSQL and Redis, a
 * webhook receiver, and test copies of the rule and Alertmanager files with shorter timings.
 */

/** The machine's PostgreSQL (trust auth) and Redis, as in the API's tests. */
export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `condition` until it returns a value other than undefined/false, or throws after the deadline. */
export async function eventually<T>(
  what: string,
  condition: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

async function psql(url: string, sql: string): Promise<string> {
  const result = await run('psql', ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
    env: cleanEnv(),
    timeoutMs: 30_000,
  });
  if (result.code !== 0) throw new Error(`psql ${sql}: ${output(result)}`);
  return result.stdout.trim();
}

export interface TempDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** A fresh database on the machine's PostgreSQL, dropped (connections closed by force) by drop(). */
export async function createDatabase(): Promise<TempDatabase> {
  const name = `obsnest_live_${randomBytes(6).toString('hex')}`;
  await psql(PG_ADMIN_URL, `CREATE DATABASE ${name}`);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => psql(PG_ADMIN_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined),
  };
}

/**
 * Holds an ACCESS EXCLUSIVE lock on `table` for `ms` milliseconds from another session, as a
 * long migration or a stuck transaction would: every query on the table waits meanwhile.
 * Resolves once the lock is held; `released` resolves when the session has let go.
 */
export async function holdTableLock(url: string, table: string, ms: number): Promise<{ released: Promise<void> }> {
  const released = psql(url, `BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(${ms / 1000}); COMMIT;`).then(
    () => undefined,
  );
  released.catch(() => undefined);
  await eventually(
    `the lock on ${table}`,
    async () =>
      (await psql(
        url,
        `SELECT count(*) FROM pg_locks WHERE relation = '${table}'::regclass AND mode = 'AccessExclusiveLock' AND granted`,
      )) === '1',
    10_000,
    20,
  );
  return { released };
}

/** Deletes the keys of a BullMQ prefix from the shared Redis. */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const script = "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) n = n + 1 end return n";
  const result = await run('redis-cli', ['-u', REDIS_URL, 'EVAL', script, '0', `${prefix}:*`], { env: cleanEnv(), timeoutMs: 10_000 });
  if (result.code !== 0) throw new Error(`redis-cli: ${output(result)}`);
}

export const API_MAIN = packageBin('@obsnest/api', 'obsnest-api');

/** The API's bin (`obsnest-api`) as a user runs it, with exactly the given environment (plus PATH). */
export class ApiProcess {
  private child: ChildProcess | undefined;
  private log = '';

  constructor(
    readonly env: Readonly<Record<string, string>>,
    readonly port: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  output(): string {
    return this.log;
  }

  /** Starts it and resolves once it logs `listening`. */
  async start(timeoutMs = 30_000): Promise<void> {
    const child = spawn(process.execPath, [API_MAIN], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...this.env, PORT: String(this.port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const mark = this.log.length;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.log += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.log += chunk));
    await eventually(
      'the API to listen',
      () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the API exited: ${this.log.slice(mark)}`);
        return this.log.slice(mark).includes('"msg":"listening"');
      },
      timeoutMs,
      50,
    );
  }

  /** Sends `signal` and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

/** One webhook notification as Alertmanager posts it, with when it arrived. */
export interface Notification {
  readonly receivedAt: number;
  readonly body: {
    status: string;
    receiver: string;
    alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string }[];
  };
}

/** An HTTP server on a free loopback port that records every notification posted to it. */
export async function startWebhookReceiver(): Promise<{ url: string; notifications: Notification[]; close(): Promise<void> }> {
  const notifications: Notification[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        notifications.push({ receivedAt: Date.now(), body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        response.writeHead(200).end();
      } catch {
        response.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    notifications,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface RuleGroup {
  name: string;
  interval?: string;
  rules: { alert?: string; record?: string; for?: string }[];
}

/**
 * Copies of the rule files in `dir` for a test that cannot wait minutes: each group's own
 * `interval` removed (the global evaluation interval applies), and the `for` of the alerts named
 * in `forOverrides` replaced. Everything else, expressions included, is the committed rules.
 * Returns the glob for rule_files.
 */
export async function writeTestRules(dir: string, forOverrides: Readonly<Record<string, string>>): Promise<string> {
  const rulesDir = join(dir, 'rules');
  await mkdir(rulesDir, { recursive: true });
  const overridden = new Set<string>();
  for (const file of ruleFiles()) {
    const content = readYaml<{ groups: RuleGroup[] }>(file);
    for (const group of content.groups) {
      delete group.interval;
      for (const rule of group.rules) {
        if (rule.alert && forOverrides[rule.alert]) {
          rule.for = forOverrides[rule.alert];
          overridden.add(rule.alert);
        }
      }
    }
    await writeFile(join(rulesDir, basename(file)), stringify(content));
  }
  const unknown = Object.keys(forOverrides).filter((name) => !overridden.has(name));
  if (unknown.length) throw new Error(`no alert rule named ${unknown.join(', ')}`);
  return join(rulesDir, '*.yml');
}

interface Route {
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  routes?: Route[];
}

/**
 * alertmanager.yml as the stack renders it (render-config.sh substitutes the webhook URL), with
 * every route's group_wait and group_interval set to `fast` so a test sees notifications within
 * seconds. Receivers, matchers and inhibitions are the committed ones.
 */
export async function renderTestAlertmanagerConfig(dir: string, webhookUrl: string, fast = '1s'): Promise<string> {
  const rendered = join(dir, 'alertmanager.rendered.yml');
  const result = await run('sh', [ALERTMANAGER_RENDER_SCRIPT], {
    env: cleanEnv({ ALERTMANAGER_CONFIG_TEMPLATE: ALERTMANAGER_CONFIG, ALERTMANAGER_CONFIG: rendered, ALERT_WEBHOOK_URL: webhookUrl }),
  });
  if (result.code !== 0) throw new Error(`render-config.sh: ${output(result)}`);
  const config = parse(await readFile(rendered, 'utf8')) as { route: Route };
  const speedUp = (route: Route): void => {
    if (route.group_wait !== undefined || route === config.route) route.group_wait = fast;
    if (route.group_interval !== undefined || route === config.route) route.group_interval = fast;
    for (const child of route.routes ?? []) speedUp(child);
  };
  speedUp(config.route);
  return stringify(config);
}
