import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DATABASE, type Database } from '../src/database/database.js';
import { migrate } from '../src/database/migrations.js';
import { createPglite } from '../src/database/pglite.js';
import { createPostgres } from '../src/database/postgres.js';
import { createLogger } from '../src/logging/logger.js';
import { createSmtpTransport } from '../src/mail/mail-transport.js';
import { databaseSentMailLog } from '../src/mail/sent-mail-log.js';
import { welcomeEmailHandler } from '../src/mail/welcome-email.js';
import { addToOutbox } from '../src/outbox/outbox.js';
import { type OutboxHandler, OutboxRelay } from '../src/outbox/outbox-relay.js';
import { WELCOME_EMAIL_TOPIC } from '../src/outbox/welcome-email.js';
import { json, postJson, startApi } from './support/api.js';
import { createTempDatabase, freePort, tempDir, waitFor } from './support/services.js';
import { startSmtp } from './support/smtp.js';

const silent = createLogger('silent');

type Kind = 'pglite' | 'postgres';
const KINDS: readonly Kind[] = ['pglite', 'postgres'];

interface OpenDatabase {
  readonly db: Database;
  /** Another connection pool on the same database, as a second API instance would have (PostgreSQL only). */
  another(): Promise<Database>;
  close(): Promise<void>;
}

async function openDatabase(kind: Kind): Promise<OpenDatabase> {
  if (kind === 'pglite') {
    const dir = await tempDir();
    const db = await createPglite(dir.path);
    await migrate(db);
    return {
      db,
      another: () => Promise.reject(new Error('PGlite is one process')),
      async close() {
        await db.close();
        await dir.remove();
      },
    };
  }
  const temp = await createTempDatabase();
  const pools: Database[] = [];
  const pool = () => {
    const db = createPostgres({ url: temp.url, max: 4, connectTimeoutMs: 2000 }, silent);
    pools.push(db);
    return db;
  };
  const db = pool();
  await migrate(db);
  return {
    db,
    another: async () => pool(),
    async close() {
      for (const p of pools) await p.close();
      await temp.drop();
    },
  };
}

const welcome = (n: number) => ({
  userId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  email: `u${n}@example.com`,
  name: `U${n}`,
});

async function addWelcomes(db: Database, count: number, from = 0): Promise<void> {
  await db.transaction(async (tx) => {
    for (let i = from; i < from + count; i++) await addToOutbox(tx, { topic: WELCOME_EMAIL_TOPIC, payload: welcome(i) });
  });
}

interface OutboxRow {
  topic: string;
  payload: Record<string, unknown>;
  attempts: number;
  last_error: string | null;
  due_in_ms: number;
}

const outboxRows = (db: Database) =>
  db.query<OutboxRow>(
    `SELECT topic, payload, attempts, last_error, (EXTRACT(EPOCH FROM next_attempt_at - now()) * 1000)::float8 AS due_in_ms
     FROM outbox ORDER BY id`,
  );

for (const kind of KINDS) {
  describe(`transactional outbox (${kind})`, () => {
    // One database for the tests below (a fresh PGlite costs seconds of initdb), emptied before each.
    let shared: OpenDatabase;
    before(async () => {
      shared = await openDatabase(kind);
    });
    after(() => shared?.close());
    beforeEach(async () => {
      await shared.db.query('DELETE FROM outbox');
      await shared.db.query('DELETE FROM sent_emails');
    });

    // PostgreSQL has autovacuum; the relay vacuums only PGlite.
    if (kind === 'pglite')
      it('VACUUMs the outbox after every vacuumEvery deletes (PGlite has no autovacuum)', async () => {
        const { db } = shared;
        await addWelcomes(db, 60);
        const bytes = async () => Number((await db.query<{ b: number }>("SELECT pg_relation_size('outbox')::int AS b"))[0].b);
        const grown = await bytes();
        assert.ok(grown > 0);
        const relay = new OutboxRelay(
          db,
          { [WELCOME_EMAIL_TOPIC]: async () => undefined },
          { pollMs: 20, batchSize: 10, vacuumEvery: 50 },
          silent,
        );
        relay.start();
        try {
          await waitFor('the outbox relayed', async () => ((await outboxRows(db)).length === 0 ? true : undefined), 10_000);
          await sleep(200);
          // A VACUUM truncates the emptied pages at the end of the heap; without one they stay.
          assert.equal(await bytes(), 0, 'vacuumed');
        } finally {
          await relay.stop();
        }
      });

    it('a signup commits the user and its welcome email together: no outbox row, no user', async () => {
      // A dead Redis keeps the message in the outbox where the test can look at it.
      const api = await startApi(kind === 'pglite' ? 'embedded' : 'real', 'express', {
        REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
        OUTBOX_POLL_MS: '50',
        RATE_LIMIT_WRITES: '0',
      });
      try {
        const db = api.app.get(DATABASE, { strict: false }) as Database;
        const created = await postJson(`${api.url}/users`, { email: 'ann@example.com', name: 'Ann' });
        assert.equal(created.status, 201, 'the signup does not wait for the queue');
        const ann = await json(created);
        const [row] = await outboxRows(db);
        assert.equal(row.topic, WELCOME_EMAIL_TOPIC);
        assert.deepEqual(row.payload, { userId: ann.id, email: 'ann@example.com', name: 'Ann' });

        // The relay tried, failed on the dead queue, and pushed the row back instead of dropping it.
        const retried = await waitFor('the relay to retry the row', async () => {
          const [r] = await outboxRows(db);
          return r && r.attempts >= 2 ? r : undefined;
        });
        assert.match(retried.last_error ?? '', /Redis is not reachable/);
        assert.ok(retried.due_in_ms > 0, 'backed off, not retried in a busy loop');

        // The outbox insert fails for this one signup: the user insert before it must not survive.
        await db.query(
          `ALTER TABLE outbox ADD CONSTRAINT reject_bob CHECK (payload->>'email' IS DISTINCT FROM 'bob@example.com') NOT VALID`,
        );
        const failed = await postJson(`${api.url}/users`, { email: 'bob@example.com', name: 'Bob' });
        assert.equal(failed.status, 500);
        const bobs = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE email = 'bob@example.com'`);
        assert.equal(Number(bobs[0].n), 0, 'no user without its welcome email');
        await db.query('ALTER TABLE outbox DROP CONSTRAINT reject_bob');
        assert.equal((await postJson(`${api.url}/users`, { email: 'bob@example.com', name: 'Bob' })).status, 201, 'no half-created Bob');
        assert.deepEqual(
          (await outboxRows(db)).map((r) => r.payload.email),
          ['ann@example.com', 'bob@example.com'],
        );
      } finally {
        await api.close();
      }
    });

    it('the relay hands each due message over once, deletes it, and leaves unknown topics alone', async () => {
      const { db } = shared;
      await addWelcomes(db, 3);
      await db.transaction((tx) => addToOutbox(tx, { topic: 'email.from-a-newer-version', payload: {} }));
      const seen: unknown[] = [];
      const relay = new OutboxRelay(db, { [WELCOME_EMAIL_TOPIC]: async (p) => seen.push(p) }, { pollMs: 1000 }, silent);
      assert.deepEqual(await relay.relayOnce(), { dispatched: 3, failed: 0 });
      assert.deepEqual(seen, [welcome(0), welcome(1), welcome(2)], 'in commit order');
      assert.deepEqual(await relay.relayOnce(), { dispatched: 0, failed: 0 });
      const rows = await outboxRows(db);
      assert.deepEqual(
        rows.map((r) => r.topic),
        ['email.from-a-newer-version'],
        'a topic this version has no handler for waits for one that does',
      );
      assert.equal((await relay.backlog(WELCOME_EMAIL_TOPIC)).pending, 0, 'per topic');
      const backlog = await relay.backlog('email.from-a-newer-version');
      assert.equal(backlog.pending, 1);
      assert.ok(backlog.oldestAgeSeconds >= 0);
    });

    it('a failed hand-over stays in the outbox and is retried with growing delays; one bad message blocks no other', async () => {
      const { db } = shared;
      const pollMs = 40;
      const calls: number[] = [];
      let poisonCalls = 0;
      const handler: OutboxHandler = async (payload) => {
        if ((payload as { poison?: boolean }).poison) {
          poisonCalls++;
          throw new Error('poison message');
        }
        calls.push(Date.now());
        if (calls.length <= 3) throw new Error('Redis is not reachable (connection reconnecting)');
      };
      const relay = new OutboxRelay(db, { [WELCOME_EMAIL_TOPIC]: handler }, { pollMs }, silent);
      try {
        await db.transaction((tx) => addToOutbox(tx, { topic: WELCOME_EMAIL_TOPIC, payload: { poison: true } }));
        await addWelcomes(db, 1);
        relay.start();
        await waitFor(
          'the message to be handed over',
          async () => (await relay.backlog(WELCOME_EMAIL_TOPIC)).pending === 1 || undefined,
          10_000,
        );
        assert.equal(calls.length, 4, 'three failures, then the hand-over');
        // Retries after pollMs, 2×, 4×. The due time counts from the pass's transaction start, a few
        // milliseconds before the call, hence the slack; scheduling only ever adds delay.
        const gaps = calls.slice(1).map((t, i) => t - calls[i]);
        for (const [i, gap] of gaps.entries()) {
          assert.ok(gap >= pollMs * 2 ** i - 15, `retry ${i + 1} after ${gap} ms, expected ≥ ${pollMs * 2 ** i}`);
        }
        const [poison] = await outboxRows(db);
        assert.deepEqual(poison.payload, { poison: true });
        assert.ok(poison.attempts >= 3 && poison.attempts === poisonCalls, `${poison.attempts} attempts recorded`);
        assert.equal(poison.last_error, 'poison message');
      } finally {
        await relay.stop();
      }
      const stoppedAt = poisonCalls;
      await sleep(300);
      assert.equal(poisonCalls, stoppedAt, 'nothing runs once stopped');
    });

    it('stop() waits for the hand-over in progress, so the queue behind it can close next', async () => {
      const { db } = shared;
      await addWelcomes(db, 1);
      let finished = false;
      const relay = new OutboxRelay(
        db,
        {
          [WELCOME_EMAIL_TOPIC]: async () => {
            await sleep(300);
            finished = true;
          },
        },
        { pollMs: 20 },
        silent,
      );
      relay.start();
      await sleep(100);
      await relay.stop();
      assert.equal(finished, true);
      assert.equal((await relay.backlog(WELCOME_EMAIL_TOPIC)).pending, 0, 'and recorded it as handed over');
    });

    it('the email processor sends a job’s message once, however often the job runs', async () => {
      const { db, another } = shared;
      const smtp = await startSmtp();
      const transport = createSmtpTransport(smtp.url, 'Test <test@example.com>');
      try {
        const run = welcomeEmailHandler(transport, databaseSentMailLog(db), silent);
        await run('welcome-1', welcome(1));
        // A second run: a worker killed after sending and before acknowledging, a job handed over twice.
        await run('welcome-1', welcome(1));
        if (kind === 'postgres') {
          // …on another instance, sharing the database.
          await welcomeEmailHandler(transport, databaseSentMailLog(await another()), silent)('welcome-1', welcome(1));
        }
        await run('welcome-2', welcome(2));
        assert.deepEqual(
          smtp.received.map((m) => m.to),
          [['u1@example.com'], ['u2@example.com']],
        );
        assert.match(smtp.received[0].raw, /^Message-ID: <welcome-1@obsnest\.local>/im);

        // A send that fails is not recorded, so its retry sends.
        const bad = { ...welcome(3), email: 'u3@mail.invalid' };
        await assert.rejects(run('welcome-3', bad), /reserved/);
        assert.equal(await databaseSentMailLog(db).wasSent('welcome-3'), false);
      } finally {
        transport.close();
        await smtp.close();
      }
    });
  });
}

describe('transactional outbox (two relays on one PostgreSQL)', () => {
  it('never hand the same message over twice, and share the work', async () => {
    const { db, another, close } = await openDatabase('postgres');
    const relays: OutboxRelay[] = [];
    try {
      const total = 300;
      await addWelcomes(db, total);
      const handedOver: { relay: number; userId: string }[] = [];
      for (const n of [0, 1]) {
        const handler: OutboxHandler = async (payload) => {
          // Keeps each pass open long enough for the two relays' scans to overlap.
          await sleep(Math.random() * 4);
          handedOver.push({ relay: n, userId: (payload as { userId: string }).userId });
        };
        relays.push(new OutboxRelay(await another(), { [WELCOME_EMAIL_TOPIC]: handler }, { pollMs: 20, batchSize: 10 }, silent));
      }
      for (const relay of relays) relay.start();
      await waitFor('the outbox to drain', async () => (await relays[0].backlog(WELCOME_EMAIL_TOPIC)).pending === 0 || undefined, 20_000);
      for (const relay of relays) await relay.stop();
      const ids = handedOver.map((h) => h.userId);
      assert.equal(new Set(ids).size, total, 'every message handed over');
      assert.equal(ids.length, total, 'none twice');
      for (const n of [0, 1])
        assert.ok(
          handedOver.some((h) => h.relay === n),
          `relay ${n} took part`,
        );
    } finally {
      for (const relay of relays) await relay.stop();
      await close();
    }
  });
});
