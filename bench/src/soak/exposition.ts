/** Reading the API's own /metrics text: the figures the soak follows, and the identity of every series. */

export interface Series {
  /** Metric name and label set exactly as exposed, e.g. `http_requests_total{method="GET",…}`. */
  readonly key: string;
  readonly name: string;
  readonly value: number;
}

/** Splits one sample line into its series key and value; undefined for comments and blank lines. */
function parseLine(line: string): Series | undefined {
  if (line === '' || line.startsWith('#')) return undefined;
  let end: number;
  const brace = line.indexOf('{');
  const space = line.indexOf(' ');
  if (brace >= 0 && (space < 0 || brace < space)) {
    // Label values may hold spaces and escaped quotes, so the closing brace is found by scanning.
    let inQuotes = false;
    end = -1;
    for (let i = brace + 1; i < line.length; i++) {
      const c = line[i];
      if (inQuotes) {
        if (c === '\\') i++;
        else if (c === '"') inQuotes = false;
      } else if (c === '"') inQuotes = true;
      else if (c === '}') {
        end = i + 1;
        break;
      }
    }
    if (end < 0) return undefined;
  } else {
    end = space;
    if (end < 0) return undefined;
  }
  const key = line.slice(0, end);
  const name = brace >= 0 && brace < end ? line.slice(0, brace) : key;
  const valueText = line.slice(end).trim().split(' ')[0] ?? '';
  return { key, name, value: Number(valueText) };
}

export function parseExposition(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    const series = parseLine(line);
    if (series) out.push(series);
  }
  return out;
}

/**
 * Families whose label values follow what the runtime is doing at the moment of the scrape
 * (`nodejs_active_resources{type}` lists the handle types alive right then; GC kinds appear the
 * first time V8 runs one), so their series come and go without anything leaking. Everything
 * else is the application's and must stop gaining series once every route has been hit.
 */
export function isRuntimeFamily(name: string): boolean {
  return name.startsWith('nodejs_') || name.startsWith('process_');
}

/** The figures of one scrape. */
export interface Scrape {
  /** ms since the soak started. */
  readonly at: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** prom-client resets its event-loop histogram on every collect, so this covers the last scrape interval. */
  readonly lagP99Seconds: number;
  readonly lagMaxSeconds: number;
  readonly websocketConnections: number;
  /** Sum of http_requests_total over every label set: what the server counted. */
  readonly httpRequestsCounted: number;
  /** process_cpu_seconds_total: user + system time of the API process. */
  readonly cpuSeconds: number;
  readonly seriesTotal: number;
  readonly appSeries: readonly string[];
  readonly bytes: number;
}

const sum = (series: readonly Series[], name: string): number => {
  let total = 0;
  let found = false;
  for (const s of series) {
    if (s.name === name) {
      total += s.value;
      found = true;
    }
  }
  return found ? total : Number.NaN;
};

export function readScrape(at: number, text: string): Scrape {
  const series = parseExposition(text);
  return {
    at,
    rssBytes: sum(series, 'process_resident_memory_bytes'),
    heapUsedBytes: sum(series, 'nodejs_heap_size_used_bytes'),
    lagP99Seconds: sum(series, 'nodejs_eventloop_lag_p99_seconds'),
    lagMaxSeconds: sum(series, 'nodejs_eventloop_lag_max_seconds'),
    websocketConnections: sum(series, 'websocket_connections'),
    httpRequestsCounted: sum(series, 'http_requests_total'),
    cpuSeconds: sum(series, 'process_cpu_seconds_total'),
    seriesTotal: series.length,
    appSeries: series.filter((s) => !isRuntimeFamily(s.name)).map((s) => s.key),
    bytes: Buffer.byteLength(text),
  };
}
