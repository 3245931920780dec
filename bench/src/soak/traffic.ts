/**
 * The soak's HTTP traffic: a fixed-rate mix of the API's routes, intended 4xx included, over
 * keep-alive connections. Open loop: requests start on schedule whatever the answers take, so a
 * slow API shows as latency and skipped slots rather than as a politely lower rate.
 */
import { Agent, request } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';

export type Kind = 'create' | 'get' | 'list' | 'missing' | 'badId' | 'delete' | 'unmatched' | 'metrics';

/** Share of each kind in the mix (per 100); /metrics is scraped on its own clock, not drawn. */
const MIX: readonly [Exclude<Kind, 'metrics'>, number][] = [
  ['create', 20],
  ['get', 28],
  ['list', 15],
  ['missing', 10],
  ['badId', 3],
  ['delete', 7],
  ['unmatched', 17],
];

/** The statuses each kind is meant to get; anything else counts as a failure. */
const EXPECTED: Readonly<Record<Kind, (status: number) => boolean>> = {
  create: (s) => s === 201,
  get: (s) => s === 200,
  list: (s) => s === 200,
  missing: (s) => s === 404,
  badId: (s) => s === 400,
  delete: (s) => s === 204,
  // Random methods on random paths: a 404 mostly, a 405 or 400 would do too; never a 2xx or a 5xx.
  unmatched: (s) => s >= 400 && s < 500,
  metrics: (s) => s === 200,
};

/** Generous: a soak looks for what breaks over time, not for slow answers; p99 shows those. */
const REQUEST_TIMEOUT_MS = 10_000;

const UNMATCHED_METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export interface KindStats {
  sent: number;
  expected: number;
  /** Status → count, for what was not expected. */
  unexpected: Record<string, number>;
  serverErrors: number;
  /** Refused, reset or closed without an answer. */
  connectionErrors: number;
  /** No answer within REQUEST_TIMEOUT_MS. */
  timeouts: number;
  /** Error code (or message) of the requests without an answer, noting a reused keep-alive socket. */
  errors: Record<string, number>;
}

export interface Window {
  completed: number;
  failures: number;
  durationsMs: number[];
}

export interface HttpResult {
  status: number;
  body: string;
  ms: number;
}

export class Traffic {
  private readonly agent: Agent;
  private readonly stats = new Map<Kind, KindStats>();
  private inFlight = 0;
  private issued = 0;
  private skippedSlots = 0;
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private emailSeq = 0;
  /** Ids of created users that GETs read; a ring, so the generator's own memory stays flat. */
  private readonly liveIds: string[] = [];
  private liveNext = 0;
  /** Ids set aside for DELETE, never read, so a GET never races a DELETE into an unintended 404. */
  private readonly doomedIds: string[] = [];
  private cursor: string | null = null;
  private window: Window = { completed: 0, failures: 0, durationsMs: [] };
  private idle: (() => void) | undefined;
  private readonly runId = randomBytes(4).toString('hex');

  constructor(
    private readonly baseUrl: string,
    private readonly rate: number,
    private readonly maxInFlight: number,
    private readonly metricsToken: string,
  ) {
    // A keep-alive socket the server closes for idleness (5 s by default) just as a request is
    // written on it fails that request: a race of the client, not a fault of the server. Two
    // things keep sockets away from that edge: round-robin reuse (fifo), so none of them idles
    // while requests flow, and an agent timeout, without which Node ignores the server's
    // `Keep-Alive: timeout=N` hint and keeps idle sockets past it.
    this.agent = new Agent({ keepAlive: true, maxSockets: maxInFlight + 4, scheduling: 'fifo', timeout: 60_000 });
  }

  start(): void {
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.tick(), 5);
  }

  /** Stops issuing, then waits for the requests in flight; scrape() still works until close(). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
  }

  close(): void {
    this.agent.destroy();
  }

  /** Completed requests, failures and durations since the previous call. */
  takeWindow(): Window {
    const window = this.window;
    this.window = { completed: 0, failures: 0, durationsMs: [] };
    return window;
  }

  get totals(): { issued: number; skippedSlots: number; byKind: Record<string, KindStats> } {
    return { issued: this.issued, skippedSlots: this.skippedSlots, byKind: Object.fromEntries(this.stats) };
  }

  /** Failures so far: unexpected statuses (5xx included) and connection errors, every kind. */
  get failures(): number {
    let n = 0;
    for (const s of this.stats.values()) n += s.connectionErrors + s.timeouts + Object.values(s.unexpected).reduce((a, b) => a + b, 0);
    return n;
  }

  private tick(): void {
    const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.rate) - this.issued;
    for (let i = 0; i < due; i++) {
      this.issued++;
      if (this.inFlight >= this.maxInFlight) {
        this.skippedSlots++;
        continue;
      }
      void this.one(this.draw());
    }
  }

  private draw(): Exclude<Kind, 'metrics'> {
    let r = Math.random() * 100;
    for (const [kind, weight] of MIX) {
      r -= weight;
      if (r < 0) return kind;
    }
    return 'unmatched';
  }

  private async one(kind: Exclude<Kind, 'metrics'>): Promise<void> {
    switch (kind) {
      case 'create': {
        const n = ++this.emailSeq;
        const result = await this.send(kind, 'POST', '/users', { email: `soak-${this.runId}-${n}@example.com`, name: `Soak ${n}` });
        if (result?.status === 201) {
          const id = (JSON.parse(result.body) as { id: string }).id;
          // One user in four is deleted later; the others are read.
          if (n % 4 === 0) this.doomedIds.push(id);
          else this.remember(id);
        }
        return;
      }
      case 'get': {
        if (this.liveIds.length === 0) return this.one('create');
        const id = this.liveIds[Math.floor(Math.random() * this.liveIds.length)];
        await this.send(kind, 'GET', `/users/${id}`);
        return;
      }
      case 'list': {
        const limit = 1 + Math.floor(Math.random() * 100);
        // Every other list follows the previous page's cursor, so deep pages are read too.
        const cursor = this.cursor && Math.random() < 0.5 ? `&cursor=${encodeURIComponent(this.cursor)}` : '';
        const result = await this.send(kind, 'GET', `/users?limit=${limit}${cursor}`);
        if (result?.status === 200) this.cursor = (JSON.parse(result.body) as { nextCursor: string | null }).nextCursor;
        return;
      }
      case 'missing':
        await this.send(kind, 'GET', `/users/${randomUUID()}`);
        return;
      case 'badId':
        await this.send(kind, 'GET', `/users/not-a-uuid-${randomBytes(3).toString('hex')}`);
        return;
      case 'delete': {
        const id = this.doomedIds.shift();
        if (id === undefined) return this.one('create');
        await this.send(kind, 'DELETE', `/users/${id}`);
        return;
      }
      case 'unmatched': {
        const method = UNMATCHED_METHODS[Math.floor(Math.random() * UNMATCHED_METHODS.length)];
        const depth = 1 + Math.floor(Math.random() * 3);
        const segments = Array.from({ length: depth }, () => randomBytes(4).toString('hex'));
        await this.send(kind, method, `/${segments.join('/')}?q=${randomBytes(3).toString('hex')}`);
        return;
      }
    }
  }

  private remember(id: string): void {
    if (this.liveIds.length < 10_000) this.liveIds.push(id);
    else {
      this.liveIds[this.liveNext] = id;
      this.liveNext = (this.liveNext + 1) % this.liveIds.length;
    }
  }

  /** GET /metrics with the bearer token, counted under `metrics`; the body, or undefined on failure. */
  async scrape(): Promise<string | undefined> {
    const result = await this.send('metrics', 'GET', '/metrics', undefined, { authorization: `Bearer ${this.metricsToken}` }, false);
    return result?.status === 200 ? result.body : undefined;
  }

  /** One request; counted by kind. Resolves undefined on a connection error (never rejects). */
  private async send(
    kind: Kind,
    method: string,
    path: string,
    json?: unknown,
    headers: Record<string, string> = {},
    inWindow = true,
  ): Promise<HttpResult | undefined> {
    const stats = this.statsOf(kind);
    stats.sent++;
    this.inFlight++;
    try {
      const result = await this.http(method, path, json, headers);
      if (EXPECTED[kind](result.status)) stats.expected++;
      else {
        stats.unexpected[result.status] = (stats.unexpected[result.status] ?? 0) + 1;
        if (inWindow) this.window.failures++;
      }
      if (result.status >= 500) stats.serverErrors++;
      if (inWindow) {
        this.window.completed++;
        this.window.durationsMs.push(result.ms);
      }
      return result;
    } catch (error) {
      const { message, code, reusedSocket } = error as Error & { code?: string; reusedSocket?: boolean };
      if (message.startsWith('timeout:')) stats.timeouts++;
      else stats.connectionErrors++;
      const key = `${code ?? message.slice(0, 60)}${reusedSocket ? ' (reused socket)' : ''}`;
      stats.errors[key] = (stats.errors[key] ?? 0) + 1;
      if (inWindow) this.window.failures++;
      return undefined;
    } finally {
      this.inFlight--;
      if (this.inFlight === 0 && this.idle) {
        this.idle();
        this.idle = undefined;
      }
    }
  }

  private statsOf(kind: Kind): KindStats {
    let stats = this.stats.get(kind);
    if (!stats) {
      stats = { sent: 0, expected: 0, unexpected: {}, serverErrors: 0, connectionErrors: 0, timeouts: 0, errors: {} };
      this.stats.set(kind, stats);
    }
    return stats;
  }

  private http(method: string, path: string, json: unknown, headers: Record<string, string>): Promise<HttpResult> {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const allHeaders: Record<string, string> = { ...headers };
    if (body !== undefined) {
      allHeaders['content-type'] = 'application/json';
      allHeaders['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request(`${this.baseUrl}${path}`, { method, headers: allHeaders, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }),
        );
        res.on('error', reject);
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
      req.on('error', (error: Error & { reusedSocket?: boolean }) => {
        error.reusedSocket = req.reusedSocket;
        reject(error);
      });
      req.end(body);
    });
  }
}
