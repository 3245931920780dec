/**
 * Which backend answers a query: Prometheus, or the long-term store every Prometheus remote-writes
 * to. Prometheus answers whatever it still holds, the store only what reaches back beyond
 * Prometheus' retention: Prometheus has the newest samples first (the store gets them with the
 * next remote-write batch and shows them after its latency offset), and it is the one alerts run on.
 */

export type Source = 'prometheus' | 'long-term';

export const SOURCES: readonly Source[] = ['prometheus', 'long-term'];

export interface Routing {
  /** The store's Prometheus query API, e.g. http://127.0.0.1:8428; none: Prometheus answers everything. */
  readonly longTermUrl?: string;
  /** How far back Prometheus keeps samples (its retention), seconds: a query reading further back goes to the store. */
  readonly longTermAfterSeconds: number;
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };
const DURATION = '(?:\\d+(?:ms|[smhdwy]))+';

/** Seconds of a Prometheus duration, compound ones included ('1h30m' → 5400); undefined if it is none. */
export function durationSeconds(text: string): number | undefined {
  if (!new RegExp(`^${DURATION}$`).test(text)) return undefined;
  let total = 0;
  for (const [, count, unit] of text.matchAll(/(\d+)(ms|[smhdwy])/g)) total += Number(count) * (UNIT_SECONDS[unit as string] as number);
  return total;
}

/** A Prometheus API time: Unix seconds (what Perses and Grafana send) or RFC 3339. */
function timeSeconds(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const number = Number(value);
  if (Number.isFinite(number)) return number;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? undefined : parsed / 1000;
}

/**
 * How far before its evaluation time a PromQL expression reads: its range selectors, subquery
 * ranges and offsets added up. Nested ranges add (`max_over_time(rate(x[5m])[1h:])` reads 65 m
 * back); side-by-side ones are counted twice, which only errs towards the store on queries that
 * are long already. Durations inside strings are not told apart: a label value like "[5m]" counts.
 */
export function lookbackSeconds(expr: string): number {
  let total = 0;
  for (const [, range] of expr.matchAll(new RegExp(`\\[\\s*(${DURATION})\\s*(?::\\s*(?:${DURATION})?\\s*)?\\]`, 'g')))
    total += durationSeconds(range as string) ?? 0;
  for (const [, offset] of expr.matchAll(new RegExp(`\\boffset\\s+(${DURATION})`, 'g'))) total += durationSeconds(offset as string) ?? 0;
  return total;
}

/** The query API's endpoints that read samples or series over a time range: the ones routed by time. */
const TIMED = /^\/api\/v1\/(query|query_range|series|labels|label\/[^/]+\/values)$/;

/**
 * The earliest time, Unix seconds, that a request to the Prometheus API reads, or undefined when
 * it is no time-bound read (build info, metadata, exemplars) or reads all of history (series
 * without `start`, which Prometheus alone answers as it always did).
 */
export function earliestRead(path: string, params: URLSearchParams, nowSeconds: number): number | undefined {
  const endpoint = TIMED.exec(path)?.[1];
  if (!endpoint) return undefined;
  const query = params.get('query') ?? '';
  if (endpoint === 'query') {
    const at = timeSeconds(params.get('time')) ?? nowSeconds;
    return Math.min(at, ...atModifiers(query)) - lookbackSeconds(query);
  }
  const start = timeSeconds(params.get('start'));
  if (start === undefined) return undefined;
  return endpoint === 'query_range' ? Math.min(start, ...atModifiers(query)) - lookbackSeconds(query) : start;
}

/** Times pinned with `@ <unix seconds>`: a query reads there whatever its range. */
function atModifiers(expr: string): number[] {
  return [...expr.matchAll(/@\s*(\d+(?:\.\d+)?)/g)].map(([, seconds]) => Number(seconds));
}

/** The backend of an automatically routed request. */
export function sourceFor(path: string, params: URLSearchParams, routing: Routing, nowSeconds: number = Date.now() / 1000): Source {
  if (!routing.longTermUrl) return 'prometheus';
  const earliest = earliestRead(path, params, nowSeconds);
  return earliest !== undefined && earliest < nowSeconds - routing.longTermAfterSeconds ? 'long-term' : 'prometheus';
}
