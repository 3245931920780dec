import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, type Database } from '../database/database.js';
import { type OutboxMessage, outboxInsert, outboxValues } from '../outbox/outbox.js';
import type { User } from './user.schemas.js';

interface UserRow {
  id: string;
  email: string;
  name: string;
  created_at: Date | string;
}

/** Keyset position: the last row of a page. Microsecond timestamps travel as text to keep their precision. */
export interface PagePosition {
  createdAt: string;
  id: string;
}

const COLUMNS = `id, email, name, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at`;

/**
 * Pages in index order. ORDER BY names the table's columns (`users.created_at`): unqualified,
 * `created_at` is the output column of COLUMNS, the to_char() text, and sorting by it cannot use
 * users_created_at_id_idx: every page read and sorted the whole table, a cost that grew with the
 * users (29 ms per page at 18k users on PGlite, in the 2026-12-01 soak; bench/BENCHMARKS.md).
 */
export const FIRST_PAGE_SQL = `SELECT ${COLUMNS} FROM users ORDER BY users.created_at, users.id LIMIT $1`;
export const PAGE_AFTER_SQL = `SELECT ${COLUMNS} FROM users WHERE (users.created_at, users.id) > ($1::timestamptz, $2::uuid) ORDER BY users.created_at, users.id LIMIT $3`;

const toUser = (row: UserRow): User => ({
  id: row.id,
  email: row.email,
  name: row.name,
  createdAt: typeof row.created_at === 'string' ? row.created_at : row.created_at.toISOString(),
});

export class DuplicateEmailError extends Error {}

@Injectable()
export class UsersRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /**
   * The user and the message announcing it in one statement: atomic as any single statement, and
   * one round trip instead of BEGIN, two INSERTs and COMMIT (on PGlite, each of those a call into
   * the WASM backend; bench/BENCHMARKS.md, "Cost of a sign-up on PGlite"). A duplicate email fails
   * the whole statement, so no message is left behind.
   */
  async insertWithMessage(user: { id: string; email: string; name: string }, message: OutboxMessage): Promise<User> {
    try {
      const rows = await this.db.query<UserRow>(
        `WITH message AS (${outboxInsert(4)}) INSERT INTO users (id, email, name) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
        [user.id, user.email, user.name, ...outboxValues(message)],
      );
      return toUser(rows[0]);
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new DuplicateEmailError(user.email);
      throw error;
    }
  }

  async findById(id: string): Promise<User | undefined> {
    const rows = await this.db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
    return rows[0] ? toUser(rows[0]) : undefined;
  }

  /** Oldest first, by (created_at, id): stable under concurrent inserts, unlike OFFSET. */
  async page(limit: number, after?: PagePosition): Promise<User[]> {
    const rows = after
      ? await this.db.query<UserRow>(PAGE_AFTER_SQL, [after.createdAt, after.id, limit])
      : await this.db.query<UserRow>(FIRST_PAGE_SQL, [limit]);
    return rows.map(toUser);
  }

  async delete(id: string): Promise<boolean> {
    const rows = await this.db.query<{ id: string }>('DELETE FROM users WHERE id = $1 RETURNING id', [id]);
    return rows.length > 0;
  }
}
