/**
 * `node pglite-init.js <dir> <start params as JSON>`: creates a PGlite data directory and exits.
 * Run by createPglite in a child process on a first start, so that what initdb leaves in memory
 * (see pglite.ts) goes with the child instead of staying in the API for its whole life.
 */
import { PGlite } from '@electric-sql/pglite';

const [dir, params] = process.argv.slice(2);
if (!dir || !params) {
  process.stderr.write('usage: pglite-init <dir> <start params as JSON>\n');
  process.exit(64);
}
const db = await PGlite.create(dir, { startParams: JSON.parse(params) as string[] });
await db.close();
