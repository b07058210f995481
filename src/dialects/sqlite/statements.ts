import type { Knex } from 'knex';
import { driverOf, runPooled } from '../../store/prepared-runner.js';

/** The parts of a better-sqlite3 database and statement this uses. */
interface Statement {
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { lastInsertRowid: number | bigint; changes: number };
  raw(toggle: boolean): Statement;
  columns(): Array<{ name: string }>;
}
interface Database {
  prepare(sql: string): Statement;
}

/** A kept statement; one that returns rows also knows its column names. */
interface Kept {
  statement: Statement;
  names?: string[];
}

/** Statements prepared on each pooled connection, by SQL text; they go when the connection does. */
const prepared = new WeakMap<Database, Map<string, Kept>>();

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
    let kept = statements.get(sql);
    if (!kept) statements.set(sql, (kept = keep(connection.prepare(sql), mode)));
    return kept.names ? toObjects(kept.statement.all(...params) as unknown[][], kept.names) : kept.statement.run(...params);
  });
}

/**
 * Rows come back as arrays and become objects here. better-sqlite3 builds each row object
 * through V8's C++ API one property at a time; arrays come back in about 60 % of the time, and
 * objects built in JavaScript, always with the same keys in the same order, cost next to
 * nothing. On a catch-up's pages that was a fifth of distcache's whole time.
 */
function keep(statement: Statement, mode: 'all' | 'run'): Kept {
  // The names are read once: every statement kept here names its columns, so a schema change
  // that SQLite prepares the statement again for cannot move them.
  if (mode === 'run') return { statement };
  return { statement: statement.raw(true), names: statement.columns().map((c) => c.name) };
}

function toObjects(rows: unknown[][], names: string[]): Array<Record<string, unknown>> {
  const objects = new Array<Record<string, unknown>>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    const object: Record<string, unknown> = {};
    // Like better-sqlite3's own objects, a repeated column name keeps the last value.
    for (let c = 0; c < names.length; c++) object[names[c]!] = row[c];
    objects[r] = object;
  }
  return objects;
}
