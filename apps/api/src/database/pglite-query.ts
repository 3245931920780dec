import { parse, type PGlite, protocol } from '@electric-sql/pglite';

/**
 * Parameterised queries on PGlite in one call into the WASM backend, against a statement prepared
 * once per SQL text. PGlite's own `query()` makes six calls per query (parse, describe statement,
 * bind, describe portal, execute, sync) and has PostgreSQL parse and plan the text every time: a
 * CPU profile of a sign-up put ~85 % of its time in PGlite, and on a 5,000-row table a primary-key
 * read took 258 µs through `query()` against 102 µs through this path (an insert 255 against
 * 122 µs; bench/BENCHMARKS.md, "Cost of a sign-up on PGlite").
 */

/**
 * The API runs a fixed set of SQL texts (a few dozen); past this many, new texts run unnamed
 * (parsed each time) so that generated SQL could not grow the backend's statement list forever.
 */
export const MAX_PREPARED = 200;

const { serialize } = protocol;

/** Text format as PostgreSQL reads it for a parameter of a type it infers from the statement. */
export function toText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return arrayLiteral(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** `{"a","b\"c",NULL}`: every element quoted, so commas, braces and spaces inside one are kept. */
function arrayLiteral(values: readonly unknown[]): string {
  const items = values.map((v) => {
    if (Array.isArray(v)) return arrayLiteral(v);
    const text = toText(v);
    return text === null ? 'NULL' : `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  });
  return `{${items.join(',')}}`;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export class PgliteStatements {
  private readonly names = new Map<string, string>();
  private next = 0;

  constructor(private readonly db: PGlite) {}

  /** How many statements are prepared in the backend. */
  get prepared(): number {
    return this.names.size;
  }

  /**
   * Runs one statement. `inTransaction`: the caller holds PGlite's transaction lock (inside
   * `db.transaction`), so only the query lock is taken, as PGlite's own `tx.query` does.
   */
  async query<T>(sql: string, params: readonly unknown[] | undefined, inTransaction: boolean): Promise<T[]> {
    const run = () => this.db._runExclusiveQuery(() => this.run<T>(sql, params ?? []));
    return inTransaction ? run() : this.db._runExclusiveTransaction(run);
  }

  private async run<T>(sql: string, params: readonly unknown[]): Promise<T[]> {
    const known = this.names.get(sql);
    const name = known ?? (this.names.size < MAX_PREPARED ? `obsnest_${this.next++}` : '');
    const parts: Uint8Array[] = [];
    if (known === undefined) parts.push(serialize.parse({ text: sql, name }));
    parts.push(
      serialize.bind({ statement: name, values: params.map(toText) }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    );
    try {
      const { messages } = await this.db.execProtocol(concat(parts));
      if (known === undefined && name !== '') this.names.set(sql, name);
      // A statement without a result (an INSERT without RETURNING) may yield no result set at all.
      return (parse.parseResults(messages, this.db.parsers)[0]?.rows ?? []) as T[];
    } catch (error) {
      // The statement may have been prepared before the error (a constraint violation at
      // execution): closed, so that a retry parsing it under a new name leaves nothing behind.
      // Closing a statement that does not exist is not an error.
      // A failure of the close itself (PGlite closing) must not hide the error that matters.
      if (known === undefined && name !== '')
        await this.db.execProtocol(concat([serialize.close({ type: 'S', name }), serialize.sync()])).catch(() => undefined);
      throw error;
    }
  }
}
