import type { Knex } from 'knex';

/** The parts of a better-sqlite3 database and statement this uses. */
interface Statement {
  all(...params: unknown[]): Array<Record<string, unknown>>;
  run(...params: unknown[]): { lastInsertRowid: number | bigint; changes: number };
}
interface Database {
  prepare(sql: string): Statement;
}

/** The parts of knex's client this relies on: the pool and the query events. */
interface PoolClient {
  driverName?: string;
  acquireConnection(): Promise<Database>;
  releaseConnection(connection: Database): Promise<void>;
  emit(event: string, ...args: unknown[]): boolean;
}

/** Statements prepared on each pooled connection, by SQL text; they go when the connection does. */
const prepared = new WeakMap<Database, Map<string, Statement>>();

let nextUid = 1;

/**
 * Runs `sql` with a statement prepared once per pooled better-sqlite3 connection. Through knex,
 * every call prepares the statement again and builds the SQL in JavaScript: on a catch-up's pages
 * and on every write that is most of the cost (SQLite itself answers a page in tens of
 * microseconds). Emits knex's `query`, `query-response` and `query-error` events, so logging and
 * counting attached to the knex instance still see these statements.
 *
 * Returns undefined when the knex client is not better-sqlite3 (the sqlite3 driver): the caller
 * then goes through knex. Never for use inside a transaction: it takes a connection from the
 * pool, which a transaction on SQLite's one connection holds.
 */
export async function runCached(knex: Knex, sql: string, params: unknown[], mode: 'all' | 'run'): Promise<unknown> {
  const client = knex.client as unknown as PoolClient;
  if (client.driverName !== 'better-sqlite3') return undefined;
  const connection = await client.acquireConnection();
  const event = { __knexQueryUid: `distcache:${nextUid++}`, method: 'raw', sql, bindings: params, options: {} };
  client.emit('query', event);
  try {
    let statements = prepared.get(connection);
    if (!statements) prepared.set(connection, (statements = new Map()));
    let statement = statements.get(sql);
    if (!statement) statements.set(sql, (statement = connection.prepare(sql)));
    const result = mode === 'all' ? statement.all(...params) : statement.run(...params);
    client.emit('query-response', result, event);
    return result;
  } catch (err) {
    client.emit('query-error', err, event);
    throw err;
  } finally {
    await client.releaseConnection(connection);
  }
}
