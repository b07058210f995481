import type { ExecutorRow, SyncExecutor } from '../store/executor.js';

/** The parts of a better-sqlite3 `Database` and statement this uses. */
interface Statement {
  readonly reader: boolean;
  all(...values: unknown[]): unknown[];
  run(...values: unknown[]): unknown;
}
interface Database {
  prepare(text: string): Statement;
}

/**
 * A better-sqlite3 database, for writes inside `db.transaction(fn)`. Its transactions are
 * synchronous: write with `cache.refreshSync(...)` and friends, which throw on failure so the
 * transaction rolls back. Statements are prepared once per database.
 */
export function betterSqliteExecutor(db: Database): SyncExecutor {
  const prepared = new Map<string, Statement>();
  const query = (text: string, values: unknown[]): ExecutorRow[] => {
    let statement = prepared.get(text);
    if (!statement) prepared.set(text, (statement = db.prepare(text)));
    if (statement.reader) return statement.all(...values) as ExecutorRow[];
    statement.run(...values);
    return [];
  };
  return { dialect: 'sqlite', query };
}
