/** One row as a client library returns it. */
export type ExecutorRow = Record<string, unknown>;

export type ExecutorDialect = 'postgres' | 'mysql' | 'sqlite';

/** A statement written for one database, to run through an executor of that database only. */
export interface DialectStatement {
  text: string;
  values: unknown[];
  dialect: ExecutorDialect;
}

/**
 * A transaction of any client library, as distcache writes through it: `{ trx: executor }`.
 * Ready-made ones for common libraries come from `distcache/executors`.
 *
 * distcache's statements use `?` placeholders and hold no other `?` (no string literals, no
 * PostgreSQL `?` operators), so an executor for a `$1` library rewrites them with `numbered()`.
 * Values are strings, numbers and null only. `query` returns the statement's rows (an empty
 * array for a statement without RETURNING); distcache reads ids from them with `Number()`, so
 * a bigint or numeric string is fine.
 *
 * @example
 * const executor: Executor = { dialect: 'postgres', query: async (text, values) => (await client.query(numbered(text), values)).rows };
 * // (`numbered` turns the `?` placeholders into pg's $1, $2; `client` is a pg Client)
 */
export interface Executor {
  readonly dialect: ExecutorDialect;
  query(text: string, values: unknown[]): Promise<ExecutorRow[]> | ExecutorRow[];
  /**
   * Where the library reports commits: registers `run` to be called once the transaction has
   * committed, never after a rollback. Without it distcache relies on `cache.transaction()`
   * around the library's transaction call, or on the log alone (see docs/clients.md).
   */
  afterCommit?(run: () => void): void;
}

/** An executor whose `query` runs synchronously (better-sqlite3, Drizzle on it), for the `*Sync` writes. */
export interface SyncExecutor extends Executor {
  query(text: string, values: unknown[]): ExecutorRow[];
}

export function isExecutor(value: unknown): value is Executor {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Partial<Executor>;
  return (e.dialect === 'postgres' || e.dialect === 'mysql' || e.dialect === 'sqlite') && typeof e.query === 'function';
}

/** `?` placeholders as `$1, $2, ...`, for libraries that number them (node-postgres, postgres.js). */
export function numbered(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

/**
 * The statement text as `dialect`'s own driver takes it, for libraries that pass it on unchanged
 * (Kysely, TypeORM): PostgreSQL's numbers its placeholders, mysql2 and better-sqlite3 take `?`.
 */
export const driverText: Readonly<Record<ExecutorDialect, (text: string) => string>> = Object.freeze({
  postgres: numbered,
  mysql: (text: string) => text,
  sqlite: (text: string) => text,
});

/** Rows as a driver may shape them: an array, `{ rows }`, or mysql2's `[rows, fields]`. */
export function rowsOf(result: unknown): ExecutorRow[] {
  if (Array.isArray(result)) {
    if (result.length === 2 && (Array.isArray(result[0]) || isHeader(result[0]))) {
      return Array.isArray(result[0]) ? (result[0] as ExecutorRow[]) : [];
    }
    return result as ExecutorRow[];
  }
  const rows = result && typeof result === 'object' ? (result as { rows?: unknown }).rows : undefined;
  if (Array.isArray(rows)) return rows as ExecutorRow[];
  return [];
}

/** mysql2's result header of an INSERT/UPDATE (`[header, fields]`). */
function isHeader(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'affectedRows' in value;
}
