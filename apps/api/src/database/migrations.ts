import type { Database } from './database.js';

/**
 * Schema changes, in order, applied at start-up on PostgreSQL and PGlite alike. Append only:
 * an applied migration is never edited, a new one is added.
 */
export const MIGRATIONS: readonly { id: string; statements: readonly string[] }[] = [
  {
    id: '001_users',
    statements: [
      `CREATE TABLE users (
        id uuid PRIMARY KEY,
        email text NOT NULL,
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      'CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))',
      'CREATE INDEX users_created_at_id_idx ON users (created_at, id)',
    ],
  },
  {
    // Messages written in the same transaction as the change they announce, handed to the queue by
    // the relay (outbox/outbox-relay.ts). A row is deleted once the queue has it, so the table holds
    // only the backlog and the relay's scan stays small.
    id: '002_outbox',
    statements: [
      `CREATE TABLE outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        topic text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        next_attempt_at timestamptz NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX outbox_next_attempt_at_id_idx ON outbox (next_attempt_at, id)',
    ],
  },
  {
    // Message ids of emails the SMTP server accepted: a job run a second time finds its id here and
    // does not send again (mail/sent-mail-log.ts).
    id: '003_sent_emails',
    statements: ['CREATE TABLE sent_emails (message_id text PRIMARY KEY, sent_at timestamptz NOT NULL DEFAULT now())'],
  },
  {
    // The W3C trace context (traceparent, tracestate) of the request that wrote the message, so the
    // relay, the job and the send it leads to join that request's trace, even after a restart or
    // a Redis outage. NULL when tracing is off.
    id: '004_outbox_trace_context',
    statements: ['ALTER TABLE outbox ADD COLUMN trace_context text'],
  },
];

/** Arbitrary constant: serialises migrations when several instances start at once. */
const MIGRATION_LOCK = 7_314_220_001;

export async function migrate(db: Database): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query('CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await tx.query<{ id: string }>('SELECT id FROM schema_migrations')).map((r) => r.id));
    const applied: string[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.id)) continue;
      // One statement per call: the extended query protocol (and PGlite) takes no batches.
      for (const statement of migration.statements) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (id) VALUES ($1)', [migration.id]);
      applied.push(migration.id);
    }
    return applied;
  });
}
