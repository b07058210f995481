import { rowsOf, type Executor, type ExecutorDialect, type ExecutorRow, type SyncExecutor } from '../store/executor.js';

/** Drizzle's `sql` tag, called as a function; the SQL object it makes is opaque here. */
type SqlTag = (strings: TemplateStringsArray, ...values: unknown[]) => unknown;
/** The parts of a Drizzle transaction (`db.transaction(async (tx) => ...)`) this uses. */
interface DrizzleTransaction {
  execute?(query: unknown): unknown;
  all?(query: unknown): unknown;
}

/** `?` placeholders as Drizzle's template parts, so Drizzle writes its driver's own placeholders. */
function template(sql: SqlTag, text: string, values: unknown[]): unknown {
  const parts = text.split('?');
  return sql(Object.assign(parts, { raw: parts }) as unknown as TemplateStringsArray, ...values);
}

/**
 * A Drizzle transaction on PostgreSQL (node-postgres, postgres.js) or MySQL (mysql2); pass
 * Drizzle's `sql` tag: `drizzleExecutor(tx, sql, 'postgres')`. Drizzle reports no commits: wrap
 * `db.transaction()` in `cache.transaction()` to apply at commit time.
 */
export function drizzleExecutor(tx: DrizzleTransaction, sql: SqlTag, dialect: Exclude<ExecutorDialect, 'sqlite'>): Executor {
  return { dialect, query: async (text, values) => rowsOf(await tx.execute!(template(sql, text, values))) };
}

/** A Drizzle transaction on better-sqlite3 (synchronous): write with `cache.refreshSync(...)`. */
export function drizzleSqliteExecutor(tx: DrizzleTransaction, sql: SqlTag): SyncExecutor {
  return { dialect: 'sqlite', query: (text, values) => tx.all!(template(sql, text, values)) as ExecutorRow[] };
}
