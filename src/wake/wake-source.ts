import type { Knex } from 'knex';
import type { Logger } from '../logger.js';
import type { TableNames } from '../store/tables.js';
import type { DialectStatement } from '../store/executor.js';

/**
 * Something that tells this process, sooner than the next poll, that another process may have
 * committed instructions: PostgreSQL LISTEN/NOTIFY, or a watch on SQLite's WAL file. Only ever a
 * hint: the poll interval stays the safety net, so a lost wake-up delays a change, never loses it.
 *
 * One source serves one DistributedCache. Sources of the same process share the expensive part
 * (one listener connection, one file watch) and release it when the last one stops.
 *
 * How the cache drives one (cache/parts.ts and cache/lifecycle.ts):
 *
 *     const wake = dialect.createWakeSource?.({ knex, tables, cluster, logger, queryTimeout });
 *     await wake?.start(() => poller.wake());   // after the poller's loop has started
 *     // after each committed write:
 *     wake?.notifyCommitted();
 *     // in stop(), before the poller stops:
 *     await wake?.stop();
 */
export interface WakeSource {
  /** What wakes this process, for logs and health. */
  readonly kind: 'postgres-notify' | 'sqlite-wal-watch' | 'cluster-relay';
  /**
   * Starts listening. `onWake` is called whenever a commit may have happened elsewhere, and once
   * each time listening (re)starts, since anything committed while it was not listening sent no
   * signal. It must be cheap and must not throw (the poller's `wake()` is both).
   *
   * Resolves once the first attempt to listen has finished, whether it worked or not; never
   * rejects: failures are retried in the background, forever, with jittered backoff.
   * A second call does nothing. A call after `stop()` does nothing.
   */
  start(onWake: () => void): Promise<void>;
  /** Stops listening and releases the shared connection or watch if this was its last user. Idempotent. */
  stop(): Promise<void>;
  /**
   * Call after a write has committed (never inside the transaction): tells the other processes.
   * Never waits and never throws; calls are coalesced per process. A no-op where the commit is
   * itself the signal (SQLite).
   */
  notifyCommitted(): void;
  /**
   * A statement that, run inside the writer's own transaction, wakes every process (this one
   * included) when that transaction commits and never after a rollback: PostgreSQL's NOTIFY is
   * transactional. For executor writes whose commit distcache cannot see. Absent: no such statement.
   */
  inTransactionNotify?(): DialectStatement | undefined;
  /**
   * Every commit to the database wakes every process by itself (SQLite's WAL watch sees each
   * one), so an executor's commit needs no statement of its own.
   */
  readonly commitWakes?: boolean;
  /** Whether a commit elsewhere would wake this process right now. */
  readonly listening: boolean;
  /** Why the wake-up cannot work here, with the fix (for health() and the log); undefined while it can. */
  readonly problem?: string | undefined;
}

/** What a dialect needs to build a wake source for one cache. */
export interface WakeSourceConfig {
  knex: Knex;
  tables: TableNames;
  cluster: string;
  logger: Logger;
  /** Bounds the listener's own queries (LISTEN, NOTIFY, liveness checks). */
  queryTimeout: number;
  /**
   * PostgreSQL: the listener's own connection (a URL or pg connection settings), for when knex goes
   * through a transaction-mode pooler; default: the settings knex was given.
   */
  connection?: string | Record<string, unknown>;
  /** Called for each failure of the shared listener (it retries on its own); for `wake:error` events. */
  onError?: (error: Error, retryInMs: number) => void;
}
