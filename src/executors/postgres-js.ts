import { numbered, type Executor, type ExecutorRow } from '../store/executor.js';

/** The part of a postgres.js `sql` (the one `sql.begin()` hands its callback) this uses. */
interface PostgresJsSql {
  unsafe(text: string, values: never[]): PromiseLike<ArrayLike<unknown>>;
}

/**
 * postgres.js: pass the transaction's `sql` from `sql.begin(async (sql) => ...)`. postgres.js
 * reports no commits: wrap `sql.begin()` in `cache.transaction()` to apply at commit time.
 */
export function postgresJsExecutor(sql: PostgresJsSql): Executor {
  // Values go as text and the statement casts nothing: PostgreSQL infers each parameter's type
  // from its column, so postgres.js's own guesses (a number as int8 or float) never matter.
  const query = async (text: string, values: unknown[]) => Array.from(await sql.unsafe(numbered(text), values.map(asText) as never[]));
  return { dialect: 'postgres', query: async (text, values) => (await query(text, values)) as ExecutorRow[] };
}

function asText(value: unknown): unknown {
  return typeof value === 'number' ? String(value) : value;
}
