import { createConnection } from 'node:net';
import type { Knex } from 'knex';

/** The parts of a pg.Client the cancel request needs (all set once it has connected). */
interface PgConnection {
  host?: string;
  port?: number;
  processID?: number | null;
  secretKey?: number | null;
  readyForQuery?: boolean;
  activeQuery?: unknown;
  /** pg 8.14+ keeps the query here; its `activeQuery` getter prints a deprecation warning. */
  _activeQuery?: unknown;
  once(event: 'drain' | 'end' | 'error', listener: () => void): unknown;
  removeListener(event: string, listener: () => void): unknown;
  __knex__disposed?: unknown;
}

/** How long a cancelled statement may take to end before its connection is thrown away instead. */
const SETTLE_MS = 2_000;

const patched = new WeakSet<object>();

/**
 * Makes the knex instance's query timeouts (`.timeout(ms, { cancel: true })`, and distcache's own
 * bounded statements) cancel with the protocol's CancelRequest, as psql's Ctrl-C does, instead of
 * knex's `select pg_cancel_backend(pid)`. Behind PgBouncer the pid a client sees is PgBouncer's,
 * so pg_cancel_backend cancels nothing (or another session's query); a CancelRequest carries the
 * backend key data, which PgBouncer maps to the server session running the statement and forwards.
 *
 * The connection then goes back to the pool only once the statement has ended (knex would hand
 * it out still busy); one that does not end within SETTLE_MS is marked for knex to destroy.
 * Changes only `cancelQuery` of this knex instance's client, once; every other query is untouched.
 */
export function useProtocolCancel(knex: Knex): void {
  const client = knex.client as { cancelQuery?: (connection: PgConnection) => Promise<unknown> };
  if (patched.has(client)) return;
  patched.add(client);
  client.cancelQuery = async (connection: PgConnection) => {
    await sendCancelRequest(connection);
    if (!(await settled(connection, SETTLE_MS))) {
      connection.__knex__disposed ??= new Error('distcache: a statement on this connection did not end after it was cancelled');
    }
  };
}

/** Sends PostgreSQL's CancelRequest for `connection`'s running statement on a new socket to the same address. */
export function sendCancelRequest(connection: PgConnection): Promise<void> {
  const { processID, secretKey } = connection;
  if (processID == null || secretKey == null) return Promise.reject(new Error('the connection has no backend key data to cancel with'));
  const host = connection.host ?? 'localhost';
  const port = connection.port ?? 5432;
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4); // the CancelRequest code
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  return new Promise((resolve, reject) => {
    const socket = host.startsWith('/') ? createConnection(`${host}/.s.PGSQL.${port}`) : createConnection({ host, port });
    const timer = setTimeout(() => socket.destroy(new Error(`no answer from ${host}:${port} to the cancel request`)), SETTLE_MS);
    timer.unref();
    // The server (or PgBouncer) reads the 16 bytes and closes the socket without a reply. We wait
    // for that close, as libpq does, and never half-close first: PgBouncer 1.18 exits with
    // "disconnect_client(): bad client state: 0" when a cancel client goes away before the cancel
    // it forwarded is done (pgbouncer#801, fixed in 1.19), and Debian 12 ships 1.18.
    socket.once('connect', () => socket.write(packet));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Resolves true once the connection is idle again, false if it is not within `ms`. */
function settled(connection: PgConnection, ms: number): Promise<boolean> {
  // The field, not the getter, where it exists: pg 8.14+ warns on every read of `activeQuery`.
  const active = '_activeQuery' in connection ? connection._activeQuery : connection.activeQuery;
  if (connection.readyForQuery === true && !active) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      clearTimeout(timer);
      connection.removeListener('drain', onDrain);
      connection.removeListener('end', onEnd);
      resolve(ok);
    };
    const onDrain = done(true);
    const onEnd = done(false);
    const timer = setTimeout(done(false), ms);
    timer.unref();
    connection.once('drain', onDrain);
    connection.once('end', onEnd);
  });
}
