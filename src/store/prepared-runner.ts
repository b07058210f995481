import knexModule, { type Knex } from 'knex';
import { acquireWithin } from './bound-query.js';
import { settleWithin } from '../util/async.js';
import { trackQuery } from '../open-resources.js';

/** The parts of knex's client this relies on: the pool, cancelling, and the query events. */
interface PoolClient<C> {
  driverName?: string;
  acquireConnection(): Promise<C>;
  releaseConnection(connection: C): Promise<void>;
  cancelQuery(connection: C): Promise<unknown>;
  emit(event: string, ...args: unknown[]): boolean;
}

// knex is CommonJS: its error classes hang off the default export.
const { KnexTimeoutError } = knexModule as unknown as { KnexTimeoutError: new (message: string) => Error };

let nextUid = 1;

/** The driver knex loaded for `knex` ('pg', 'mysql2', 'better-sqlite3', ...). */
export function driverOf(knex: Knex): string | undefined {
  return (knex.client as unknown as PoolClient<unknown>).driverName;
}

/**
 * Runs `exec` on a connection from knex's pool, for the statements the stores keep prepared
 * (each dialect's statements file says why). Emits knex's `query`, `query-response` and
 * `query-error` events, so logging and counting attached to the knex instance see these too.
 *
 * With `timeoutMs`, a statement still running then is cancelled on the server, as knex does for
 * its own timeouts, and the call rejects with knex's KnexTimeoutError. Never for use inside a
 * transaction: the connection comes from the pool.
 */
export function runPooled<C, R>(
  knex: Knex,
  sql: string,
  bindings: unknown[],
  timeoutMs: number | undefined,
  exec: (connection: C) => R | Promise<R>,
): Promise<R> {
  return trackQuery(runOnPooled(knex, sql, bindings, timeoutMs, exec));
}

async function runOnPooled<C, R>(
  knex: Knex,
  sql: string,
  bindings: unknown[],
  timeoutMs: number | undefined,
  exec: (connection: C) => R | Promise<R>,
): Promise<R> {
  const client = knex.client as unknown as PoolClient<C>;
  // The wait for a connection counts against the timeout too: see bound-query.ts.
  const connection = await acquireWithin(client.acquireConnection(), timeoutMs, (c) => client.releaseConnection(c));
  const event = { __knexQueryUid: `distcache:${nextUid++}`, method: 'raw', sql, bindings, options: {} };
  client.emit('query', event);
  let timer: NodeJS.Timeout | undefined;
  try {
    const run = Promise.resolve().then(() => exec(connection));
    const result =
      timeoutMs === undefined
        ? await run
        : await new Promise<R>((resolve, reject) => {
            let timedOut = false;
            timer = setTimeout(() => {
              timedOut = true;
              const error = new KnexTimeoutError(`Defined query timeout of ${timeoutMs}ms exceeded when running query.`);
              // Cancel first, so the connection goes back to the pool idle rather than still busy;
              // the statement's own "cancelled" error is then ignored in favour of the timeout.
              // The cancel itself is bounded too: against a backend that cannot answer (stopped, or
              // behind a dead link) it may never complete, and the poll must not wait on it.
              const cancelled = client.cancelQuery(connection).then(
                () => true,
                () => false,
              );
              void settleWithin(cancelled, timeoutMs).then(async (settled) => {
                if (!settled || !(await cancelled)) {
                  // Not cancelled: the session is still busy, so the pool must not hand it out
                  // again (knex's own flag for a connection to destroy).
                  (connection as unknown as { __knex__disposed?: unknown }).__knex__disposed = error;
                }
                reject(error);
              });
            }, timeoutMs);
            run.then(
              (value) => {
                if (!timedOut) resolve(value);
              },
              (err: unknown) => {
                if (!timedOut) reject(err);
              },
            );
          });
    client.emit('query-response', result, event);
    return result;
  } catch (err) {
    client.emit('query-error', err, event);
    throw err;
  } finally {
    clearTimeout(timer);
    await client.releaseConnection(connection);
  }
}
