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

/** Sample-name suffixes each OpenMetrics family type allows (OpenMetrics 1.0, "Metric types"). */
const OPENMETRICS_SUFFIXES: Record<string, readonly string[]> = {
  counter: ['_total', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_sum', '_count', '_created'],
  gaugehistogram: ['_bucket', '_gsum', '_gcount'],
  summary: ['', '_sum', '_count', '_created'],
  info: ['_info'],
  stateset: [''],
  unknown: [''],
};

/**
 * A strict parser of OpenMetrics 1.0.0 text: exactly one `# EOF` as the last line, no blank line,
 * metadata before a family's samples, every sample of a family together and named as its type
 * allows, one `# TYPE`/`# HELP` per family. `types`/`help` are keyed by family name
 * (`http_requests` for the counter whose samples are `http_requests_total`).
 */
export function parseOpenMetrics(text: string): Exposition {
  if (!text.endsWith('# EOF\n')) throw new Error('an OpenMetrics exposition ends with "# EOF\\n"');
  const lines = text.slice(0, -'# EOF\n'.length).split('\n');
  if (lines.at(-1) === '') lines.pop();
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  const finished = new Set<string>();
  let family: string | undefined;
  const enter = (name: string) => {
    if (family === name) return;
    if (family !== undefined) finished.add(family);
    if (finished.has(name)) throw new Error(`family ${name} appears twice (its lines must be together)`);
    family = name;
  };
  for (const line of lines) {
    if (line === '') throw new Error('blank line in an OpenMetrics exposition');
    if (line === '# EOF') throw new Error('# EOF before the end');
    const meta = /^# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?$/.exec(line);
    if (meta) {
      const [, kind, name, rest = ''] = meta;
      enter(name);
      if (kind === 'TYPE') {
        if (types.has(name)) throw new Error(`second TYPE for ${name}`);
        if (!(rest in OPENMETRICS_SUFFIXES)) throw new Error(`unknown type in: ${line}`);
        types.set(name, rest);
      } else if (kind === 'HELP') {
        if (help.has(name)) throw new Error(`second HELP for ${name}`);
        help.set(name, unescapeLabel(rest));
      }
      continue;
    }
    if (line.startsWith('#')) throw new Error(`unexpected comment: ${line}`);
    const parsed = parseExposition(line).samples[0];
    if (!parsed) throw new Error(`bad sample line: ${line}`);
    const type = family === undefined ? undefined : types.get(family);
    const suffix = family !== undefined && parsed.name.startsWith(family) ? parsed.name.slice(family.length) : undefined;
    if (type === undefined || suffix === undefined || !OPENMETRICS_SUFFIXES[type].includes(suffix)) {
      throw new Error(`sample ${parsed.name} does not belong to the family before it (${family} ${type})`);
    }
    samples.push(parsed);
  }
  return { samples, types, help };
}

/** Every sample as `name{labels sorted} value`, sorted: two expositions with the same data compare equal. */
export function sampleSet(exposition: Exposition): string[] {
  return exposition.samples
    .map((s) => {
      const labels = Object.entries(s.labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
      return `${s.name}{${labels.join(',')}} ${s.value}`;
    })
    .sort();
}

export async function scrapeAs(url: string, accept: string): Promise<{ contentType: string | null; vary: string | null; body: string }> {
  const res = await fetch(`${url}/metrics`, { headers: { accept }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${body}`);
  return { contentType: res.headers.get('content-type'), vary: res.headers.get('vary'), body };
}
