import pg from 'pg';
import type { Logger } from 'pino';
import { type Database, DatabaseUnavailableError, isConnectionError, type Queryable } from './database.js';

export interface PostgresOptions {
  url: string;
  max: number;
  connectTimeoutMs: number;
}

export function createPostgres(options: PostgresOptions, logger: Logger): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max,
    // Waiting forever for a connection turns a database outage into hung requests; fail fast instead.
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
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
        await client.query('ROLLBACK').catch(() => undefined);
        // A broken connection must not go back to the pool.
        client.release(isConnectionError(error) ? (error as Error) : undefined);
        throw isConnectionError(error) ? new DatabaseUnavailableError(error) : error;
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
