import { pino } from 'pino';
import { WELCOME_EMAIL_TOPIC } from '../outbox/welcome-email.js';
import { welcomeJobId } from '../queue/email-queue.js';
import type { Database } from './database.js';
import { migrate } from './migrations.js';
import { createPglite } from './pglite.js';
import { createPostgres } from './postgres.js';

/**
 * For benchmarks (bench/src/sections/growth.ts): a database holding what many sign-ups leave behind,
 * written in bulk instead of one HTTP request each (100,000 sign-ups through the API take an hour
 * on PGlite). Not used by the API itself.
 */

/** The database the API would open for this DATABASE_URL (none: PGlite under dataDir), migrated. */
export async function openDatabase(options: { databaseUrl?: string; dataDir: string }): Promise<Database> {
  const db = options.databaseUrl
    ? createPostgres({ url: options.databaseUrl, max: 2, connectTimeoutMs: 10_000 }, pino({ level: 'silent' }))
    : await createPglite(options.dataDir);
  await migrate(db);
  return db;
}

/**
 * `count` sign-ups' worth of rows, batch by batch, each batch one transaction, with the statements
 * a sign-up runs, set-wise: the users row; its outbox message, then the relay's delete of it (so
 * the outbox carries the same dead rows as after real sign-ups); the sent-mail record the email
 * job writes. Emails are `<emailPrefix><n>@example.com` from `first`. Returns the new users' ids.
 */
export async function seedSignups(
  db: Database,
  options: { count: number; first: number; emailPrefix: string; batch?: number },
): Promise<string[]> {
  const batch = options.batch ?? 5000;
  const ids: string[] = [];
  for (let start = options.first; start < options.first + options.count; start += batch) {
    const end = Math.min(start + batch, options.first + options.count) - 1;
    const created = await db.transaction(async (tx) => {
      const rows = await tx.query<{ id: string }>(
        `INSERT INTO users (id, email, name)
         SELECT gen_random_uuid(), $1 || g || '@example.com', 'Seed ' || g FROM generate_series($2::int, $3::int) AS g
         RETURNING id`,
        [options.emailPrefix, start, end],
      );
      const batchIds = rows.map((r) => r.id);
      const messages = await tx.query<{ id: string }>(
        `INSERT INTO outbox (topic, payload)
         SELECT $1, jsonb_build_object('userId', u.id, 'email', u.email, 'name', u.name)
         FROM users u WHERE u.id = ANY($2::uuid[])
         RETURNING id`,
        [WELCOME_EMAIL_TOPIC, batchIds],
      );
      await tx.query('DELETE FROM outbox WHERE id = ANY($1::bigint[])', [messages.map((m) => m.id)]);
      await tx.query('INSERT INTO sent_emails (message_id) SELECT unnest($1::text[])', [batchIds.map(welcomeJobId)]);
      return batchIds;
    });
    ids.push(...created);
  }
  return ids;
}
