import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import type { Database } from '../src/database/database.js';
import { createPglite } from '../src/database/pglite.js';
import { MAX_PREPARED, PgliteStatements, toText } from '../src/database/pglite-query.js';
import { openDatabase, seedSignups } from '../src/database/seed.js';
import { querySummary } from '../src/tracing/traced-database.js';
import { FIRST_PAGE_SQL, PAGE_AFTER_SQL } from '../src/users/users.repository.js';
import { createTempDatabase, tempDir } from './support/services.js';

describe('the users page queries read the (created_at, id) index, not the whole table', () => {
  for (const kind of ['pglite', 'postgres'] as const) {
    describe(kind, () => {
      let db: Database;
      let cleanup: () => Promise<void>;
      before(async () => {
        const dir = await tempDir();
        const temp = kind === 'postgres' ? await createTempDatabase() : undefined;
        db = await openDatabase({ databaseUrl: temp?.url, dataDir: dir.path });
        await seedSignups(db, { count: 3000, first: 1, emailPrefix: 'page-' });
        if (kind === 'postgres') await db.query('ANALYZE');
        cleanup = async () => {
          await db.close();
          await temp?.drop();
          await dir.remove();
        };
      });
      after(() => cleanup());

      const plan = async (sql: string, params: unknown[]) =>
        (await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params)).map((r) => r['QUERY PLAN']).join('\n');

      it('first page', async () => {
        const text = await plan(FIRST_PAGE_SQL, [101]);
        assert.match(text, /Index Scan using users_created_at_id_idx/, text);
        assert.doesNotMatch(text, /Sort|Seq Scan/, text);
      });

      it('a page after a cursor', async () => {
        const [row] = await db.query<{ created_at: Date; id: string }>(
          'SELECT created_at, id FROM users ORDER BY created_at, id OFFSET 1500 LIMIT 1',
        );
        const text = await plan(PAGE_AFTER_SQL, [row.created_at.toISOString(), row.id, 101]);
        assert.match(text, /Index Scan using users_created_at_id_idx/, text);
        assert.doesNotMatch(text, /Sort|Seq Scan/, text);
      });
    });
  }
});

describe('PGlite statements: one call, prepared once per SQL text', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let raw: PGlite;
  let statements: PgliteStatements;
  before(async () => {
    dir = await tempDir();
    raw = await PGlite.create(dir.path);
    statements = new PgliteStatements(raw);
    await raw.exec(`CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, k text UNIQUE, tags text[], doc jsonb,
      at timestamptz NOT NULL DEFAULT now(), n int8, f float8, ok boolean)`);
  });
  after(async () => {
    await raw.close();
    await dir.remove();
  });

  it('encodes parameters as PostgreSQL reads them', () => {
    assert.equal(toText(null), null);
    assert.equal(toText(undefined), null);
    assert.equal(toText(42), '42');
    assert.equal(toText(true), 'true');
    assert.equal(toText(new Date('2026-12-01T10:00:00.123Z')), '2026-12-01T10:00:00.123Z');
    assert.equal(toText(['a', 'b,c', 'd"e', 'f\\g', null, '', '{x}']), '{"a","b,c","d\\"e","f\\\\g",NULL,"","{x}"}');
    assert.equal(toText([[1, 2], [3]]), '{{"1","2"},{"3"}}');
    assert.equal(toText({ a: 1 }), '{"a":1}');
  });

  it('returns what PGlite’s own query() returns, types included', async () => {
    const insert = 'INSERT INTO t (k, tags, doc, n, f, ok) VALUES ($1, $2::text[], $3::jsonb, $4, $5, $6) RETURNING *';
    const tags = ['x y', 'a,b', 'q"uote', 'back\\slash', '{brace}'];
    const [mine] = await statements.query<Record<string, unknown>>(
      insert,
      ['one', tags, JSON.stringify({ a: [1, 'two'] }), 9007199254740993n, 1.5, true],
      false,
    );
    const theirs = (await raw.query<Record<string, unknown>>('SELECT * FROM t WHERE k = $1', ['one'])).rows[0];
    assert.deepEqual(mine, theirs);
    assert.deepEqual(mine.tags, tags);
    assert.deepEqual(mine.doc, { a: [1, 'two'] });
    assert.ok(mine.at instanceof Date);
    const byArray = await statements.query<{ k: string }>('SELECT k FROM t WHERE id = ANY($1::bigint[])', [[String(mine.id)]], false);
    assert.deepEqual(byArray, [{ k: 'one' }]);
    assert.deepEqual(await statements.query('UPDATE t SET ok = $1 WHERE k = $2', [false, 'nobody'], false), []);
  });

  it('prepares a text once, and a statement failing at its first run leaves nothing prepared', async () => {
    const count = async () => Number((await raw.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements')).rows[0].n);
    const before = await count();
    const select = 'SELECT k FROM t WHERE k = $1';
    for (let i = 0; i < 5; i++) await statements.query(select, ['one'], false);
    assert.equal(await count(), before + 1, 'one statement for five runs');
    const duplicate = 'INSERT INTO t (k) VALUES ($1)';
    for (let i = 0; i < 3; i++) {
      await assert.rejects(statements.query(duplicate, ['one'], false), (e: { code?: string }) => e.code === '23505');
    }
    assert.equal(await count(), before + 1, 'failed first runs closed their statement');
    await statements.query(duplicate, ['two'], false);
    await assert.rejects(statements.query(duplicate, ['two'], false), (e: { code?: string }) => e.code === '23505');
    assert.equal(await count(), before + 2, 'kept once it ran; a later failure keeps it');
    await assert.rejects(statements.query('SELEKT 1', [], false), /syntax error/);
    assert.deepEqual(await statements.query(select, ['two'], false), [{ k: 'two' }], 'usable after errors');
    assert.ok(MAX_PREPARED >= 50);
  });
});

describe('createPglite: statements inside a transaction', () => {
  it('commit together, roll back together, and a duplicate keeps its SQLSTATE', async () => {
    const dir = await tempDir();
    const db = await createPglite(dir.path);
    try {
      await db.query('CREATE TABLE kv (k text PRIMARY KEY, v int)');
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO kv VALUES ($1, $2)', ['a', 1]);
        await tx.query('INSERT INTO kv VALUES ($1, $2)', ['b', 2]);
      });
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO kv VALUES ($1, $2)', ['c', 3]);
          await tx.query('INSERT INTO kv VALUES ($1, $2)', ['a', 4]);
        }),
        (e: { code?: string }) => e.code === '23505',
      );
      assert.deepEqual(await db.query('SELECT k, v FROM kv ORDER BY k'), [
        { k: 'a', v: 1 },
        { k: 'b', v: 2 },
      ]);
    } finally {
      await db.close();
      await dir.remove();
    }
  });
});

describe('querySummary', () => {
  it('names a statement with a WITH list by its main statement', () => {
    assert.equal(querySummary('SELECT id FROM outbox WHERE x'), 'SELECT outbox');
    assert.equal(
      querySummary('WITH message AS (INSERT INTO outbox (topic) VALUES ($4)) INSERT INTO users (id) VALUES ($1) RETURNING id'),
      'INSERT users',
    );
    assert.equal(querySummary('WITH a AS (SELECT 1 FROM x), b AS (DELETE FROM y (z)) UPDATE users SET n = 1'), 'UPDATE users');
  });
});
