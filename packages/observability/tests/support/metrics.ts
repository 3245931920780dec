import { spawn } from 'node:child_process';
import { request } from 'node:http';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** `# TYPE` per metric family. */
  readonly types: ReadonlyMap<string, string>;
  /** `# HELP` per metric family (unescaped). */
  readonly help: ReadonlyMap<string, string>;
}

function unescapeLabel(value: string): string {
  return value.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function unescapeHelp(value: string): string {
  return value.replace(/\\([\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

/** A strict parser of the Prometheus text format (0.0.4): throws on any line it does not understand. */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      const [, name, rest] = /^# HELP (\S+) ?(.*)$/.exec(line) ?? [];
      if (name === undefined) throw new Error(`bad HELP line: ${line}`);
      help.set(name, unescapeHelp(rest ?? ''));
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [, name, type] = /^# TYPE (\S+) (\S+)$/.exec(line) ?? [];
      if (name === undefined || type === undefined) throw new Error(`bad TYPE line: ${line}`);
      types.set(name, type);
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`bad sample line: ${line}`);
    const [, name, rawLabels, rawValue] = match;
    const labels: Record<string, string> = {};
    if (rawLabels) {
      LABEL.lastIndex = 0;
      let consumed = 0;
      for (let m = LABEL.exec(rawLabels); m !== null; m = LABEL.exec(rawLabels)) {
        labels[m[1]] = unescapeLabel(m[2]);
        consumed = LABEL.lastIndex;
      }
      if (consumed !== rawLabels.length) throw new Error(`bad labels: ${line}`);
    }
    const value = rawValue === '+Inf' ? Infinity : rawValue === '-Inf' ? -Infinity : Number(rawValue);
    if (Number.isNaN(value) && rawValue !== 'NaN') throw new Error(`bad value: ${line}`);
    samples.push({ name, labels, value });
  }
  return { samples, types, help };
}

/** Samples of one series name whose labels include `match`. */
export function select(exposition: Exposition, name: string, match: Record<string, string> = {}): Sample[] {
  return exposition.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** The value of exactly one matching sample; throws when there are none or several. */
export function sampleValue(exposition: Exposition, name: string, match: Record<string, string> = {}): number {
  const found = select(exposition, name, match);
  if (found.length !== 1) {
    throw new Error(`expected one ${name}${JSON.stringify(match)}, found ${found.length}: ${JSON.stringify(found)}`);
  }
  return found[0].value;
}

/** `method route status_code` of every http_requests_total series, sorted, with its value. */
export function httpSeries(exposition: Exposition): string[] {
  return select(exposition, 'http_requests_total')
    .map((s) => `${s.labels.method} ${s.labels.route} ${s.labels.status_code} = ${s.value}`)
    .sort();
}

/** Longest any test request may take: a hang is a failure, not a stuck test run. */
export const REQUEST_TIMEOUT_MS = 5000;

export async function scrapeText(url: string, token?: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    // A scrape that hangs fails the test (and lets it clean up) instead of hanging it.
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${body}`);
  return body;
}

export async function scrape(url: string, token?: string): Promise<Exposition> {
  return parseExposition(await scrapeText(url, token));
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A request through node:http, for methods fetch refuses (PROPFIND…) and exact header control. */
export function rawRequest(
  method: string,
  url: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${url}: no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export { waitFor } from '@obsnest/testkit';

export interface PromtoolResult {
  readonly code: number | null;
  readonly output: string;
}

/** Pipes an exposition into `promtool check metrics`; `output` is stdout and stderr together. */
export function promtoolCheckMetrics(text: string, binary = process.env.PROMTOOL ?? '/usr/bin/promtool'): Promise<PromtoolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}
