import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, type Database, type Queryable } from '../database/database.js';
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

  async insert(tx: Queryable, user: { id: string; email: string; name: string }): Promise<User> {
    try {
      const rows = await tx.query<UserRow>(`INSERT INTO users (id, email, name) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`, [
        user.id,
        user.email,
        user.name,
      ]);
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
      ? await this.db.query<UserRow>(
          `SELECT ${COLUMNS} FROM users WHERE (created_at, id) > ($1::timestamptz, $2::uuid) ORDER BY created_at, id LIMIT $3`,
          [after.createdAt, after.id, limit],
        )
      : await this.db.query<UserRow>(`SELECT ${COLUMNS} FROM users ORDER BY created_at, id LIMIT $1`, [limit]);
    return rows.map(toUser);
  }

  async delete(id: string): Promise<boolean> {
    const rows = await this.db.query<{ id: string }>('DELETE FROM users WHERE id = $1 RETURNING id', [id]);
    return rows.length > 0;
  }

  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }
}
