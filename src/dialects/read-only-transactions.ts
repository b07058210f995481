import type { Knex } from 'knex';

/** The query method of a pg.Client or a mysql2 connection, as knex and the stores call it. */
interface Queryable {
  query(config: unknown, ...rest: unknown[]): unknown;
}

/**
 * How one database spells a read-only transaction, from its dialect folder
 * (`postgres/read-only.ts`, `mysql/read-only.ts`).
 */
export interface ReadOnlySyntax {
  /** Begins a read-only transaction. */
  begin: string;
  /** The caller's own BEGIN (not already read-only or read-write), made read-only. */
  readOnlyBegin(bare: string, plain: boolean): string;
  /** The driver streams a query given no callback (mysql2), rather than returning a promise (pg). */
  streamsWithoutCallback: boolean;
}

type Done = (err: Error | null, ...results: unknown[]) => void;

const BEGIN = /^\s*(begin|start\s+transaction)\b/i;
const END = /^\s*(commit|end|rollback)\b(?!\s+to\b)/i;
const PLAIN_BEGIN = /^\s*(begin(\s+work)?|start\s+transaction)\s*;?\s*$/i;

/**
 * Makes every statement on a PostgreSQL or MySQL/MariaDB connection run in a read-only
 * transaction of its own, so a read-only CLI command provably never writes, without leaving
 * anything on the session. A session-wide read-only default would stay on a server session that a
 * pooler (PgBouncer, ProxySQL) then hands to the application, whose writes fail (PostgreSQL
 * 25006, MySQL 1792). A statement outside a transaction runs as a read-only begin, the statement,
 * `commit`, each sent once the one before has answered (pg refuses to queue them); after a failed
 * statement PostgreSQL answers that `commit` with a rollback, and MySQL has nothing to commit. A
 * transaction the caller opens is made read-only.
 */
export function readOnlyTransactions(connection: Queryable, syntax: ReadOnlySyntax): void {
  const query = connection.query.bind(connection) as (config: unknown, ...rest: unknown[]) => unknown;
  let inTransaction = false;
  connection.query = (config: unknown, ...rest: unknown[]) => {
    const text = statementText(config);
    if (BEGIN.test(text)) {
      inTransaction = true;
      return query(withText(config, readOnlyBegin(text, syntax)), ...rest);
    }
    if (inTransaction) {
      if (END.test(text)) inTransaction = false;
      return query(config, ...rest);
    }
    const callback = typeof rest[rest.length - 1] === 'function' ? (rest.pop() as Done) : undefined;
    // A streamed query (a pg Submittable, or a mysql2 query without a callback) reports through
    // its own events; none is used here.
    const streamed = typeof (config as { submit?: unknown })?.submit === 'function' || (syntax.streamsWithoutCallback && !callback);
    if (streamed) throw new Error('read-only CLI connections do not run streamed queries');
    const run = (done: Done) =>
      query(syntax.begin, (beginError: Error | null) => {
        if (beginError) return done(beginError);
        query(config, ...rest, (err: Error | null, ...results: unknown[]) => {
          query('commit', () => (err ? done(err) : done(null, ...results)));
        });
      });
    if (callback) {
      run(callback);
      return undefined;
    }
    return new Promise((resolve, reject) => run((err, result) => (err ? reject(err) : resolve(result))));
  };
}

/** The caller's own BEGIN, read-only. */
function readOnlyBegin(text: string, syntax: ReadOnlySyntax): string {
  if (/\bread\s+(only|write)\b/i.test(text)) return text;
  return syntax.readOnlyBegin(text.replace(/;\s*$/, ''), PLAIN_BEGIN.test(text));
}

/** pg takes `{ text }`, mysql2 `{ sql }`; both take a plain string. */
function statementText(config: unknown): string {
  if (typeof config === 'string') return config;
  const { text, sql } = (config ?? {}) as { text?: unknown; sql?: unknown };
  return typeof text === 'string' ? text : typeof sql === 'string' ? sql : '';
}

function withText(config: unknown, text: string): unknown {
  if (typeof config === 'string') return text;
  return typeof (config as { sql?: unknown }).sql === 'string' ? { ...(config as object), sql: text } : { ...(config as object), text };
}

type AfterCreate = (conn: unknown, done: (err: Error | null, conn: unknown) => void) => void;

/** A knex config whose every new connection runs each statement in a read-only transaction (see readOnlyTransactions). */
export function readOnlyPool(config: Knex.Config, syntax: ReadOnlySyntax): Knex.Config {
  const pool = { ...(config.pool ?? {}) } as Record<string, unknown>;
  const original = pool.afterCreate as AfterCreate | undefined;
  pool.afterCreate = ((conn: Queryable, done: (err: Error | null, conn: unknown) => void) => {
    if (original) original(conn, (err) => (err ? done(err, conn) : (readOnlyTransactions(conn, syntax), done(null, conn))));
    else {
      readOnlyTransactions(conn, syntax);
      done(null, conn);
    }
  }) as AfterCreate;
  return { ...config, pool };
}
