/**
 * PROPOSED hot-path fix for packages/observability (not applied there; the bench measures it).
 *
 * Today `AppMetrics.observeHttpRequest` builds a key string per request (`${method} ${status} ${route}`:
 * allocation, number-to-string, and a fresh hash of the whole string for the Map lookup), then
 * calls prom-client's cached children, which still, per call, build a `{labels, value}` object,
 * validate every label, hash the label object into a string again (`hashObject`), look it up, and
 * index the bucket object by a number converted to a string. The recorder below keeps the same
 * series and the same exposition, but per request it does three Map lookups on strings that are
 * already hashed (route templates and method names are long-lived strings, status codes are small
 * integers) and a few additions into a preallocated Float64Array: no allocation, no prom-client.
 *
 * At scrape time it renders its two families itself, with each series' label block escaped once
 * when the series is created, instead of prom-client building ~15 objects and arrays per series.
 */

const escapeLabelValue = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

class Series {
  count = 0;
  sum = 0;
  /** Observations per bucket (not cumulative); the last slot is above the highest bound (+Inf). */
  readonly buckets: Float64Array;
  /** `method="GET",route="/x",status_code="200"`, escaped once. */
  readonly labels: string;

  constructor(method: string, route: string, statusCode: number, size: number) {
    this.buckets = new Float64Array(size + 1);
    this.labels = `method="${escapeLabelValue(method)}",route="${escapeLabelValue(route)}",status_code="${statusCode}"`;
  }
}

export interface FamilyHelp {
  readonly name: string;
  readonly help: string;
}

export class HttpRecorder {
  private readonly byRoute = new Map<string, Map<string, Map<number, Series>>>();
  /** Creation order, which is also prom-client's exposition order. */
  private readonly all: Series[] = [];
  private readonly bounds: Float64Array;
  private readonly leLabels: string[];

  constructor(
    private readonly requests: FamilyHelp,
    private readonly duration: FamilyHelp,
    bounds: readonly number[],
  ) {
    this.bounds = Float64Array.from(bounds);
    this.leLabels = bounds.map((b) => `le="${b}"`);
  }

  observe(method: string, route: string, statusCode: number, seconds: number): void {
    let byMethod = this.byRoute.get(route);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.byRoute.set(route, byMethod);
    }
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      byMethod.set(method, byStatus);
    }
    let series = byStatus.get(statusCode);
    if (series === undefined) {
      series = new Series(method, route, statusCode, this.bounds.length);
      byStatus.set(statusCode, series);
      this.all.push(series);
    }
    series.count++;
    series.sum += seconds;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]) i++;
    series.buckets[i]++;
  }

  get seriesCount(): number {
    return this.all.length;
  }

  /** The two families in prom-client's text format (same lines, same order). */
  render(): string {
    const r = this.requests.name;
    const d = this.duration.name;
    let out = `# HELP ${r} ${escapeHelp(this.requests.help)}\n# TYPE ${r} counter`;
    for (const s of this.all) out += `\n${r}{${s.labels}} ${s.count}`;
    out += `\n\n# HELP ${d} ${escapeHelp(this.duration.help)}\n# TYPE ${d} histogram`;
    const les = this.leLabels;
    for (const s of this.all) {
      let cumulative = 0;
      for (let i = 0; i < les.length; i++) {
        cumulative += s.buckets[i];
        out += `\n${d}_bucket{${les[i]},${s.labels}} ${cumulative}`;
      }
      out += `\n${d}_bucket{le="+Inf",${s.labels}} ${s.count}\n${d}_sum{${s.labels}} ${s.sum}\n${d}_count{${s.labels}} ${s.count}`;
    }
    return out;
  }
}
