/**
 * A closed-loop HTTP client: `count` requests, `concurrency` at a time, over keep-alive sockets.
 * For routes whose requests differ one from the next (a new email per sign-up, a random user per
 * read), which wrk's single request template does not give without a Lua script per route.
 */
import { Agent, request } from 'node:http';

export interface PlannedRequest {
  readonly method: string;
  readonly path: string;
  readonly json?: unknown;
  readonly headers?: Record<string, string>;
}

export interface ClosedLoopResult {
  readonly requests: number;
  readonly seconds: number;
  /** Status → count. */
  readonly statuses: Record<string, number>;
  /** Bodies of the responses, when asked for (sign-ups: the new ids). */
  readonly bodies: string[];
}

export class ClosedLoop {
  private agent: Agent | undefined;

  constructor(
    private readonly baseUrl: string,
    private readonly concurrency: number,
  ) {
    if (!new URL(baseUrl).hostname.startsWith('127.')) throw new Error(`loopback only: ${baseUrl}`);
  }

  /**
   * Keep-alive within a run, fresh connections for each: between runs a server may close an idle
   * socket (keep-alive timeout) just as the next request is written on it, a reset that is the
   * client's race, not the server's fault.
   */
  async run(count: number, plan: (i: number) => PlannedRequest, keepBodies = false): Promise<ClosedLoopResult> {
    this.agent?.destroy();
    this.agent = new Agent({ keepAlive: true, maxSockets: this.concurrency, scheduling: 'fifo' });
    const statuses: Record<string, number> = {};
    const bodies: string[] = [];
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const { status, body } = await this.send(plan(i));
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (keepBodies) bodies.push(body);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, count) }, worker));
    return { requests: count, seconds: (performance.now() - started) / 1000, statuses, bodies };
  }

  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  private send(r: PlannedRequest): Promise<{ status: number; body: string }> {
    const body = r.json === undefined ? undefined : JSON.stringify(r.json);
    const headers: Record<string, string> = { ...r.headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const req = request(`${this.baseUrl}${r.path}`, { method: r.method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`timeout: ${r.method} ${r.path}`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}
