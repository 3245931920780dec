import type { Database, Queryable } from '../database/database.js';
import { inSpan, SpanKind } from './spans.js';

/**
 * `INSERT users`, `SELECT outbox`: the operation and the first table, a name from a closed set of
 * statements. A statement with a WITH list is named by its main statement (`WITH message AS
 * (INSERT INTO outbox …) INSERT INTO users …` is `INSERT users`).
 */
export function querySummary(sql: string): string {
  if (/^\s*WITH\b/i.test(sql)) return querySummary(mainStatement(sql));
  const operation = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? 'QUERY';
  const table = /\b(?:INTO|FROM|UPDATE|TABLE)\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][\w.]*)/i.exec(sql)?.[1];
  return table ? `${operation} ${table}` : operation;
}

/** What follows the WITH list: the text after the last top-level parenthesised group. */
function mainStatement(sql: string): string {
  let depth = 0;
  let end = -1;
  for (let i = 0; i < sql.length; i++) {
    if (sql[i] === '(') depth++;
    else if (sql[i] === ')' && --depth === 0) {
      end = i;
      // The list goes on after a comma; anything else starts the main statement.
      if (!/^\s*,/.test(sql.slice(i + 1))) break;
    }
  }
  return end < 0 ? sql.replace(/^\s*WITH\b/i, '') : sql.slice(end + 1);
}

/**
 * A client span around every query, whichever adapter runs it: the same spans for PostgreSQL
 * (rather than @opentelemetry/instrumentation-pg, which PGlite would not have) and PGlite, so a
 * trace reads the same on both. Applied only when tracing is on.
 */
export function tracedDatabase(db: Database): Database {
  const system = db.kind === 'postgres' ? 'postgresql' : 'pglite';
  const traced =
    (q: Queryable): Queryable['query'] =>
    (sql, params) =>
      inSpan(
        querySummary(sql),
        { kind: SpanKind.CLIENT, attributes: { 'db.system.name': system, 'db.query.text': sql, 'db.query.summary': querySummary(sql) } },
        () => q.query(sql, params),
      );
  return {
    kind: db.kind,
    query: traced(db),
    transaction: (work) => db.transaction((tx) => work({ query: traced(tx) })),
    ping: () => db.ping(),
    poolStats: () => db.poolStats(),
    close: () => db.close(),
  };
}
