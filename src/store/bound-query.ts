import knexModule from 'knex';
import { trackQuery } from '../open-resources.js';

// knex is CommonJS: its error classes hang off the default export.
const { KnexTimeoutError } = knexModule as unknown as { KnexTimeoutError: new (message: string) => Error };

/** A knex query builder or raw: it runs when awaited, and tells when it is sent. */
export interface BoundableQuery {
  timeout(ms: number, options?: { cancel?: boolean }): unknown;
  on?(event: 'query', listener: () => void): unknown;
}

/**
 * Runs `query` bounded by `ms` from the moment it is called, waiting for a connection included.
 * knex's own `.timeout()` starts only once a connection is in hand, so against a database that
 * accepts TCP and never answers a query would wait for the pool's acquireConnectionTimeout (60 s
 * by default) instead. Once the query is sent, knex's timeout decides, since it also cancels the
 * statement on the server; before that, this rejects with the same KnexTimeoutError. A connection
 * that arrives later still runs the query, bounded by knex's timeout; nothing waits for it.
 *
 * knex rejects a timed-out query only once its cancel has finished, and against a backend that
 * cannot answer (stopped, or behind a dead link) the cancel waits for the statement to end before
 * marking the connection for destruction (postgres/cancel.ts: seconds). So once sent, the query
 * gets `ms` more for its cancel and then rejects anyway; the cancel goes on in the background and
 * the connection is still destroyed rather than reused. A caller waits at most 2 × `ms` after the
 * query is sent (as runPooled does), whatever the database does.
 */
export function boundQuery<T extends BoundableQuery>(query: T, ms: number, cancel: boolean): Promise<Awaited<T>> {
  type R = Awaited<T>;
  let sent = false;
  let cancelTimer: NodeJS.Timeout | undefined;
  let onSentTimeout: (() => void) | undefined;
  query.on?.('query', () => {
    sent = true;
    // knex's timeout (ms) and then its cancel (at most ms more) before this gives up waiting.
    cancelTimer = setTimeout(() => onSentTimeout?.(), 2 * ms);
    cancelTimer.unref();
  });
  const running = trackQuery(Promise.resolve(query.timeout(ms, { cancel }) as PromiseLike<R>));
  return new Promise<R>((resolve, reject) => {
    onSentTimeout = () =>
      reject(new KnexTimeoutError(`Defined query timeout of ${ms}ms exceeded when running query (the cancel did not finish).`));
    const timer = setTimeout(() => {
      if (!sent) reject(new KnexTimeoutError(`Defined query timeout of ${ms}ms exceeded while waiting for a database connection.`));
    }, ms);
    timer.unref();
    running.then(
      (value) => {
        clearTimeout(timer);
        clearTimeout(cancelTimer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        clearTimeout(cancelTimer);
        reject(err);
      },
    );
  });
}

/** Waits at most `ms` for a connection from the pool; one that comes later goes straight back. */
export function acquireWithin<C>(acquire: Promise<C>, ms: number | undefined, release: (connection: C) => unknown): Promise<C> {
  if (ms === undefined) return acquire;
  return new Promise<C>((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new KnexTimeoutError(`Defined query timeout of ${ms}ms exceeded while waiting for a database connection.`));
    }, ms);
    timer.unref();
    acquire.then(
      (connection) => {
        clearTimeout(timer);
        if (late) void Promise.resolve(release(connection)).catch(() => undefined);
        else resolve(connection);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
