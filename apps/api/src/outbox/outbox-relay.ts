import type { Logger } from 'pino';
import type { Database, Queryable } from '../database/database.js';
import { inSpan, SpanKind, withTraceContext } from '../tracing/spans.js';

/**
 * Hands one message's payload over to where it goes (the email queue); throws to be retried later.
 * It must be idempotent: a relay that stops between the hand-over and the delete hands the message
 * over again on the next pass.
 */
export type OutboxHandler = (payload: unknown) => Promise<unknown>;

export interface OutboxRelayOptions {
  /** Pause between scans when there is nothing to do; also the first retry delay of a failed message. */
  readonly pollMs: number;
  readonly batchSize?: number;
  /** Ceiling of a failed message's exponential backoff. */
  readonly maxBackoffMs?: number;
  /** A hand-over that takes longer counts as failed (and is retried), so one hung call cannot stall the relay. */
  readonly handoverTimeoutMs?: number;
  /**
   * PGlite only: VACUUM the outbox after start-up and once this many rows have been deleted since
   * (default 1,000). PGlite
   * has no autovacuum, and a deleted row's space is not reused until a vacuum: the outbox heap,
   * which the relay and every scrape read in full, would grow with every message ever sent.
   */
  readonly vacuumEvery?: number;
}

export interface OutboxBacklog {
  /** Messages not handed over yet, retrying ones included. */
  readonly pending: number;
  /** Age of the oldest of them; 0 when there is none. */
  readonly oldestAgeSeconds: number;
}

export interface RelayPass {
  readonly dispatched: number;
  readonly failed: number;
}

interface OutboxRow {
  id: string;
  topic: string;
  payload: unknown;
  attempts: number;
  trace_context: string | null;
}

const withTimeout = <T>(work: Promise<T>, ms: number): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hand-over timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
};

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Moves outbox rows to their handlers: scans the due rows, hands each over, deletes the ones handed
 * over and pushes the failed ones back with exponential backoff. Correctness comes from here alone:
 * whatever the request path did or did not do after its commit, every row is eventually handed over,
 * at least once.
 */
export class OutboxRelay {
  private readonly topics: string[];
  private readonly batchSize: number;
  private readonly maxBackoffMs: number;
  private readonly handoverTimeoutMs: number;
  private running?: Promise<void>;
  private stopping = false;
  private woken = false;
  private interrupt?: () => void;
  private failing = false;
  /** Starts due, so that the first idle moment after start-up vacuums what earlier runs left. */
  private deletedSinceVacuum = Number.POSITIVE_INFINITY;

  constructor(
    private readonly db: Database,
    private readonly handlers: Readonly<Record<string, OutboxHandler>>,
    private readonly options: OutboxRelayOptions,
    private readonly logger: Logger,
  ) {
    this.topics = Object.keys(handlers);
    this.batchSize = options.batchSize ?? 50;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.handoverTimeoutMs = options.handoverTimeoutMs ?? 10_000;
  }

  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.running = this.loop();
  }

  /** Waits for the pass in progress, so nothing is handed over once the queue behind it closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.interrupt?.();
    await this.running;
    this.running = undefined;
  }

  /** Scan now rather than at the next poll: a message was just committed. */
  wake(): void {
    this.woken = true;
    this.interrupt?.();
  }

  /** One scan of at most `batchSize` due rows. */
  async relayOnce(): Promise<RelayPass> {
    // Several instances share PostgreSQL: the rows a pass handles stay locked until it commits, and
    // the other relays skip them instead of handing them over a second time. A crashed instance's
    // locks go with its connection, so nothing waits on a lease.
    if (this.db.kind === 'postgres') return this.db.transaction((tx) => this.pass(tx, 'FOR UPDATE SKIP LOCKED'));
    // PGlite is one process with one connection: there is no other relay to lock out, and a
    // transaction held across the hand-overs would stall every request until they finish.
    return this.pass(this.db, '');
  }

  /** What waits in the outbox for one topic; read by the metrics at scrape time. */
  async backlog(topic: string): Promise<OutboxBacklog> {
    const [row] = await this.db.query<{ pending: number; oldest: number }>(
      'SELECT count(*)::int AS pending, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest FROM outbox WHERE topic = $1',
      [topic],
    );
    return { pending: Number(row.pending), oldestAgeSeconds: Math.max(Number(row.oldest), 0) };
  }

  private async pass(q: Queryable, lock: string): Promise<RelayPass> {
    const rows = await q.query<OutboxRow>(
      `SELECT id, topic, payload, attempts, trace_context FROM outbox
       WHERE next_attempt_at <= now() AND topic = ANY($1::text[])
       ORDER BY next_attempt_at, id LIMIT $2 ${lock}`,
      [this.topics, this.batchSize],
    );
    if (rows.length === 0) return { dispatched: 0, failed: 0 };
    const outcomes = await Promise.allSettled(
      // Through a promise so that a handler throwing synchronously fails its row, not the pass.
      rows.map((row) => withTimeout(this.handOver(row), this.handoverTimeoutMs)),
    );
    const done = rows.filter((_, i) => outcomes[i].status === 'fulfilled').map((row) => row.id);
    if (done.length > 0) {
      await q.query('DELETE FROM outbox WHERE id = ANY($1::bigint[])', [done]);
      this.deletedSinceVacuum += done.length;
    }
    let lastError = '';
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') continue;
      const row = rows[i];
      lastError = messageOf(outcome.reason);
      this.logger.debug({ outboxId: row.id, topic: row.topic, attempt: row.attempts + 1, err: lastError }, 'outbox hand-over failed');
      await q.query(
        `UPDATE outbox SET attempts = attempts + 1, last_error = $2,
           next_attempt_at = now() + $3::double precision * interval '1 millisecond'
         WHERE id = $1`,
        [row.id, lastError.slice(0, 1000), this.retryDelay(row.attempts + 1)],
      );
    }
    const failed = rows.length - done.length;
    this.report(failed > 0 ? lastError : undefined, done.length);
    return { dispatched: done.length, failed };
  }

  /**
   * The hand-over runs as a child span of the request that wrote the row, not in a trace of its own
   * linked to it: one sign-up is one piece of work whose email is part of it, so request, relay,
   * job and send read as one tree in any trace viewer (and a link would need a viewer that follows
   * links to get there). The relay's scan itself belongs to no request and is not traced.
   */
  private handOver(row: OutboxRow): Promise<unknown> {
    const handler = this.handlers[row.topic];
    return withTraceContext(row.trace_context, () =>
      inSpan(
        `outbox relay ${row.topic}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: { 'outbox.id': String(row.id), 'outbox.topic': row.topic, 'outbox.attempt': row.attempts + 1 },
        },
        // Through a promise so that a handler throwing synchronously fails its row, not the pass.
        () => Promise.resolve(row.payload).then(handler),
      ),
    );
  }

  /** First retry after pollMs, then doubling: a queue outage is retried often at first, rarely later. */
  private retryDelay(failures: number): number {
    return Math.min(this.options.pollMs * 2 ** (failures - 1), Math.max(this.maxBackoffMs, this.options.pollMs));
  }

  private async loop(): Promise<void> {
    let errors = 0;
    while (!this.stopping) {
      this.woken = false;
      let more = false;
      try {
        const { dispatched, failed } = await this.relayOnce();
        errors = 0;
        // A full batch of successes means more rows are probably due; a failure means the
        // destination is struggling, and the next scan can wait.
        more = dispatched === this.batchSize && failed === 0;
      } catch (error) {
        // The database itself is out of reach: the rows are safe in it, only the relay waits.
        errors++;
        this.report(messageOf(error), 0);
      }
      if (this.stopping) break;
      if (!more) await this.vacuumIfDue();
      if (!more && !this.woken) await this.sleep(errors > 0 ? this.retryDelay(errors) : this.options.pollMs);
    }
  }

  /** On PGlite, between passes (a VACUUM cannot share a transaction): what autovacuum does on PostgreSQL. */
  private async vacuumIfDue(): Promise<void> {
    if (this.db.kind !== 'pglite' || this.deletedSinceVacuum < (this.options.vacuumEvery ?? 1000)) return;
    this.deletedSinceVacuum = 0;
    try {
      await this.db.query('VACUUM outbox');
    } catch (error) {
      this.logger.warn({ err: messageOf(error) }, 'VACUUM of the outbox failed; retried after the next batch of deletes');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.interrupt = undefined;
        resolve();
      };
      // Unreferenced: a forgotten stop() must not keep a process (or a test run) alive.
      const timer = setTimeout(done, ms).unref();
      this.interrupt = done;
    });
  }

  /** Logs the transitions only: an outage of the queue would otherwise log once per message per retry. */
  private report(error: string | undefined, dispatched: number): void {
    if (error !== undefined && !this.failing) {
      this.failing = true;
      this.logger.warn({ err: error }, 'outbox relay cannot hand messages over; they stay in the outbox and are retried');
    } else if (error === undefined && this.failing && dispatched > 0) {
      this.failing = false;
      this.logger.info({ dispatched }, 'outbox relay handing messages over again');
    }
  }
}
