import pg from 'pg';
import type { Logger } from 'pino';
import { type Database, DatabaseUnavailableError, isConnectionError, type Queryable } from './database.js';

export interface PostgresOptions {
  url: string;
  max: number;
  connectTimeoutMs: number;
  /** Longest wait for the answer to one query; 0 waits forever. Default DEFAULT_QUERY_TIMEOUT_MS. */
  queryTimeoutMs?: number;
}

/**
 * A server that stops answering without closing the connection (frozen, partitioned, swapping)
 * would otherwise hold a request, and the pooled connection under it, for as long as TCP takes to
 * give up: minutes. Long enough for any query this API makes, migrations included.
 */
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;

export function createPostgres(options: PostgresOptions, logger: Logger): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max,
    // Waiting forever for a connection turns a database outage into hung requests; fail fast instead.
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    // Client-side: it also covers a server that cannot answer at all, which statement_timeout cannot.
    query_timeout: (options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS) || undefined,
    application_name: 'obsnest-api',
  });
  // An idle client losing its connection emits here; unhandled, it would crash the process.
  pool.on('error', (error) => logger.warn({ err: error.message }, 'idle PostgreSQL connection lost'));

  const run = async <T>(client: Queryable | pg.Pool, sql: string, params?: readonly unknown[]): Promise<T[]> => {
    try {
      const result = await (client as pg.Pool).query(sql, params as unknown[] | undefined);
      return result.rows as T[];
    } catch (error) {
      throw isConnectionError(error) ? new DatabaseUnavailableError(error) : error;
    }
  };

  return {
    kind: 'postgres',
    query: (sql, params) => run(pool, sql, params),
    async transaction(work) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw new DatabaseUnavailableError(error);
      }
      const tx: Queryable = { query: (sql, params) => run(client, sql, params) };
      try {
        await client.query('BEGIN');
        const result = await work(tx);
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (error) {
        const unavailable = isConnectionError(error);
        // On a broken or unresponsive connection a ROLLBACK would only wait out another timeout;
        // the server rolls back when the connection is dropped.
        const rolledBack =
          !unavailable &&
          (await client.query('ROLLBACK').then(
            () => true,
            () => false,
          ));
        // A connection in an unknown state must not go back to the pool: an error passed to release() destroys it.
        client.release(rolledBack ? undefined : error instanceof Error ? error : new Error(String(error)));
        throw unavailable && !(error instanceof DatabaseUnavailableError) ? new DatabaseUnavailableError(error) : error;
      }
    },
    async ping() {
      await run(pool, 'SELECT 1');
    },
    poolStats() {
      return {
        active: pool.totalCount - pool.idleCount,
        idle: pool.idleCount,
        pending: pool.waitingCount,
        max: options.max,
      };
    },
    close: () => pool.end(),
  };
}
