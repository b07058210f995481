import { createHash } from 'node:crypto';
import knexModule, { type Knex } from 'knex';
import type pg from 'pg';

/**
 * A statement PostgreSQL parses and plans once per connection instead of once per call.
 *
 * The poll runs many times a second across a fleet, and its statement is long: through knex.raw
 * each call pays for binding substitution in JavaScript and a fresh parse and plan on the server,
 * about 0.45 ms of an idle poll's 0.65 ms here. As a named statement on the same pooled
 * connection it costs about 0.2 ms (docs/design.md, "Prepared statements").
 *
 * The name is a hash of the text, so stores with different table prefixes on one pool never
 * collide (pg refuses one name for two texts on a connection).
 */
export class PreparedStatement {
  readonly name: string;

  constructor(readonly text: string) {
    this.name = `distcache_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
  }
}

/** The parts of knex's client this relies on: the pool, cancelling, and the query events. */
interface PoolClient {
  acquireConnection(): Promise<pg.Client>;
  releaseConnection(connection: pg.Client): Promise<void>;
  cancelQuery(connection: pg.Client): Promise<unknown>;
  emit(event: string, ...args: unknown[]): boolean;
}

// knex is CommonJS: its error classes hang off the default export.
const { KnexTimeoutError } = knexModule as unknown as { KnexTimeoutError: new (message: string) => Error };

let nextUid = 1;

/**
 * Runs `statement` on a connection from knex's pool, bounded by `timeoutMs`: past it the query is
 * cancelled server-side, as knex does for its own timeouts, and the call rejects with knex's
 * KnexTimeoutError. Emits knex's `query`, `query-response` and `query-error` events, so query
 * logging and counting attached to the knex instance still see these statements.
 *
 * With `prepare` false (behind a transaction-mode pooler that cannot keep a statement between
 * transactions) the same text runs unnamed: parsed and planned every time, as through knex.raw.
 */
export async function runPrepared(
  knex: Knex,
  statement: PreparedStatement,
  values: unknown[],
  options: { timeoutMs: number; prepare: boolean },
): Promise<Array<Record<string, unknown>>> {
  const client = knex.client as unknown as PoolClient;
  const connection = await client.acquireConnection();
  const event = { __knexQueryUid: `distcache:${nextUid++}`, method: 'raw', sql: statement.text, bindings: values, options: {} };
  client.emit('query', event);
  let timer: NodeJS.Timeout | undefined;
  try {
    const query = connection.query(options.prepare ? { name: statement.name, text: statement.text, values } : { text: statement.text, values });
    const result = await new Promise<pg.QueryResult>((resolve, reject) => {
      let timedOut = false;
      timer = setTimeout(() => {
        timedOut = true;
        const error = new KnexTimeoutError(`Defined query timeout of ${options.timeoutMs}ms exceeded when running query.`);
        // Cancel first, so the connection goes back to the pool idle rather than still busy; the
        // statement's own "canceling statement" error is then ignored in favour of the timeout.
        client.cancelQuery(connection).then(
          () => reject(error),
          () => {
            // Not cancelled: the session is still busy, so the pool must not hand it out again
            // (knex's own flag for a connection to destroy).
            (connection as unknown as { __knex__disposed?: unknown }).__knex__disposed = error;
            reject(error);
          },
        );
      }, options.timeoutMs);
      query.then(
        (value) => {
          if (!timedOut) resolve(value);
        },
        (err: unknown) => {
          if (!timedOut) reject(err);
        },
      );
    });
    client.emit('query-response', result.rows, event);
    return result.rows as Array<Record<string, unknown>>;
  } catch (err) {
    client.emit('query-error', err, event);
    throw err;
  } finally {
    clearTimeout(timer);
    await client.releaseConnection(connection);
  }
}

/**
 * Whether `err` shows that named statements do not survive on this connection: a
 * transaction-mode pooler hands each transaction a different server session, so a statement
 * prepared on one is missing (26000) or already taken (42P05) on another.
 */
export function poolerLostStatement(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '26000' || code === '42P05';
}
