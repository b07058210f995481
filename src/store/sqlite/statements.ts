import type { Knex } from 'knex';
import { driverOf, runPooled } from '../pooled.js';

/** The parts of a better-sqlite3 database and statement this uses. */
interface Statement {
  all(...params: unknown[]): Array<Record<string, unknown>>;
  run(...params: unknown[]): { lastInsertRowid: number | bigint; changes: number };
}
interface Database {
  prepare(sql: string): Statement;
}

/** Statements prepared on each pooled connection, by SQL text; they go when the connection does. */
const prepared = new WeakMap<Database, Map<string, Statement>>();

/**
 * Runs `sql` with a statement prepared once per pooled better-sqlite3 connection. Through knex,
 * every call prepares the statement again and builds the SQL in JavaScript: on a catch-up's pages
 * and on every write that is most of the cost (SQLite itself answers a page in tens of
 * microseconds). A schema change under a kept statement is SQLite's to handle: it prepares the
 * statement again by itself.
 *
 * Returns undefined when the knex client is not better-sqlite3 (the sqlite3 driver): the caller
 * then goes through knex. No timeout: better-sqlite3 runs synchronously, so nothing could
 * interrupt it (the connection's busy_timeout bounds waiting for the write lock).
 */
export async function runCached(knex: Knex, sql: string, params: unknown[], mode: 'all' | 'run'): Promise<unknown> {
  if (driverOf(knex) !== 'better-sqlite3') return undefined;
  return runPooled(knex, sql, params, undefined, (connection: Database) => {
    let statements = prepared.get(connection);
    if (!statements) prepared.set(connection, (statements = new Map()));
    let statement = statements.get(sql);
    if (!statement) statements.set(sql, (statement = connection.prepare(sql)));
    return mode === 'all' ? statement.all(...params) : statement.run(...params);
  });
}
