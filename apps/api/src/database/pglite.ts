import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import type { Database } from './database.js';
import { PgliteStatements } from './pglite-query.js';

/**
 * PostgreSQL's default buffer pool (128MB) is WASM memory that, once touched, is never given back:
 * reopening a data directory and serving reads and sign-ups took 361 MB of RSS with it and 203 MB
 * with 16MB (bench/BENCHMARKS.md, "Memory"). 32MB still holds the users table and its indexes at
 * 100k users; what misses is read from the data directory through the OS page cache.
 */
const SHARED_BUFFERS = '32MB';

const INIT_SCRIPT = fileURLToPath(new URL('./pglite-init.js', import.meta.url));

async function initInChild(dir: string, startParams: readonly string[]): Promise<void> {
  try {
    await promisify(execFile)(process.execPath, [INIT_SCRIPT, dir, JSON.stringify(startParams)], { timeout: 120_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`creating the PGlite data directory ${dir} failed: ${stderr.trim() || (error as Error).message}`);
  }
}

/**
 * Embedded PostgreSQL (WASM) stored in a directory, so the API runs with no database server.
 * It has one connection; the pool metrics report it as a pool of size 1 with queued callers as
 * pending, which is what they are.
 */
export async function createPglite(dataDir: string): Promise<Database> {
  const dir = resolve(dataDir, 'pglite');
  await mkdir(dir, { recursive: true });
  const options = { startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS}`] };
  // A first start runs initdb, and in this process what it leaves (its WASM instance and the
  // bundled files) would stay reachable for good: the API at 745 MB of RSS at rest instead of
  // ~240 MB (bench/BENCHMARKS.md, "Memory"). A child process creates the directory instead.
  if (!existsSync(resolve(dir, 'PG_VERSION'))) await initInChild(dir, options.startParams);
  const db = await PGlite.create(dir, options);
  const statements = new PgliteStatements(db);
  let inFlight = 0;

  const track = async <T>(work: () => Promise<T>): Promise<T> => {
    inFlight++;
    try {
      return await work();
    } finally {
      inFlight--;
    }
  };

  return {
    kind: 'pglite',
    query: (sql, params) => track(() => statements.query(sql, params, false)),
    // PGlite's transaction for BEGIN/COMMIT/ROLLBACK and its lock; the statements inside it go
    // through the prepared path with only the query lock, as PGlite's own tx.query does.
    transaction: (work) => track(() => db.transaction(() => work({ query: (sql, params) => statements.query(sql, params, true) }))),
    async ping() {
      await db.query('SELECT 1');
    },
    poolStats() {
      const active = Math.min(inFlight, 1);
      return { active, idle: 1 - active, pending: Math.max(inFlight - 1, 0), max: 1 };
    },
    close: () => db.close(),
  };
}
