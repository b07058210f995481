import { rowsOf, type Executor } from '../store/executor.js';

/** The part of a mysql2 promise `Connection` or `PoolConnection` this uses. */
interface Mysql2Connection {
  query(text: string, values: unknown[]): Promise<unknown>;
}

/**
 * A mysql2 promise connection inside a transaction (`await pool.getConnection()` then
 * `beginTransaction()`; for a callback connection pass `connection.promise()`). The row id is read
 * with `last_insert_id()`, which is per connection: never pass a pool. mysql2 reports no commits:
 * wrap the transaction in `cache.transaction()` to apply at commit time.
 */
export function mysql2Executor(connection: Mysql2Connection): Executor {
  return { dialect: 'mysql', query: async (text, values) => rowsOf(await connection.query(text, values)) };
}
