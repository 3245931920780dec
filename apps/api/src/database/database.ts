import type { DbPoolStats } from '@obsnest/observability';

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/**
 * The persistence port. PostgreSQL and embedded PGlite both implement it, chosen once at start-up
 * from DATABASE_URL; nothing else in the code knows which one runs.
 */
export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Resolves when a trivial query succeeds; used by readiness. */
  ping(): Promise<void>;
  poolStats(): DbPoolStats;
  close(): Promise<void>;
}

export const DATABASE = Symbol('DATABASE');

/** Thrown when the database cannot be reached; the HTTP layer answers 503 for it. */
export class DatabaseUnavailableError extends Error {
  constructor(cause: unknown) {
    super('the database is unavailable', { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

/**
 * SQLSTATE classes and node errors that mean "cannot reach the database", not "bad query". A query
 * that got no answer within the client-side timeout counts: the server may be up, but not for us.
 */
export function isConnectionError(error: unknown): boolean {
  // Already classified (by a query inside a transaction, say).
  if (error instanceof DatabaseUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: string }).code ?? '';
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', '57P01', '57P02', '57P03'].includes(code) ||
    code.startsWith('08') ||
    /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|Client has encountered a connection error|Query read timeout/i.test(
      error.message,
    )
  );
}
