import type { Knex } from 'knex';
import type { Duration } from './duration.js';
import type { Logger } from './logger.js';
import type { AnyCacheRefresher } from './refreshers/refresher.js';
import type { ColdBootReason } from './events.js';
import type { RoleOption } from './cluster/roles.js';
import { MAX_PAGE_BYTES, MAX_ROW_BYTES } from './util/limits.js';

export { MAX_ROW_BYTES };

// The declaration: every option once, with its default in JSDoc and in DEFAULTS. The checks and
// the one resolve function live in options/ (resolve.ts, and names.ts for the list of names), which
// read this file, never the reverse.

/** Options of `new DistributedCache(options)`. Either `knex` or `connection` is required. */
export interface DistributedCacheOptions {
  /** A Knex instance for PostgreSQL (`pg`), SQLite (`better-sqlite3`) or MySQL/MariaDB (`mysql2`). distcache never destroys it. */
  knex?: Knex;
  /**
   * Instead of `knex`: a connection string (`postgres://…`, `mysql://…`, `sqlite://file`), for apps
   * whose own code uses another client (Drizzle, Kysely, pg). distcache then builds its own small
   * knex pool (at most 4 connections) and destroys it at the end of `stop()`.
   * @example new DistributedCache({ connection: process.env.DATABASE_URL })
   */
  connection?: string;
  /**
   * Replicas of `knex`'s primary (cascading ones too), each a Knex instance. Polls (page reads)
   * go to the first replica that can serve them exactly; writes, cursors, heartbeats, the lease and
   * pruning stay on `knex`. PostgreSQL streaming standbys: targets come from a tick the primary
   * writes (migration 009), never from a standby's own snapshot, and pending counts are read there
   * too. MySQL/MariaDB replicas: read only while their settings keep the primary's commit order
   * (start() rejects with E_REPLICA_NOT_EXACT otherwise; migration 013). With replicas, `notify`
   * defaults to false and `syncInterval` to 250 ms: a short poll of a replica replaces a listener
   * session per server on the primary. SQLite refuses it (E_REPLICAS_UNSUPPORTED). See
   * docs/scaling.md. distcache never destroys these Knex instances.
   * @default []
   * @example replicas: [knexFactory({ client: 'pg', connection: process.env.REPLICA_URL! })]
   */
  replicas?: Knex[];
  /**
   * A replica whose newest tick is older than this (by its clock against the primary's stamp) is
   * passed over: reads go to the next replica, or to the primary; health() reports it.
   * @default '10s' (or 3 × syncInterval, if longer)
   */
  maxReplicaLag?: Duration;
  /** Refreshers to register; more can be added with `register()` before `start()`. @default [] */
  refreshers?: AnyCacheRefresher[];
  /** This server's stable name: its cursor is stored under it. Give each process its own. @default os.hostname() */
  serverIdentity?: string;
  /**
   * Scopes everything: a server only reads its own cluster's instructions, only sees its servers,
   * and only takes part in its election. Two clusters can share one database.
   * @default 'default'
   */
  cluster?: string;
  /**
   * `'auto'` takes part in the election of the scheduling publisher through a lease in the
   * database. A fixed role overrides the election; fixed roles are what Umbraco recommends for
   * production, so that the role of each machine is decided by the operator, not by who started first.
   * @default 'auto'
   * @example role: process.env.CACHE_ROLE === 'publisher' ? 'scheduling-publisher' : 'subscriber'
   */
  role?: RoleOption;
  /**
   * How often this server writes its heartbeat (and renews the lease when it holds it).
   * @default '10s' (staleServerTimeout / 12 when only staleServerTimeout is set)
   */
  heartbeatInterval?: Duration;
  /** A server whose last heartbeat is older than this becomes inactive and stops holding pruning back. @default '2m' */
  staleServerTimeout?: Duration;
  /**
   * How long the scheduling-publisher lease lasts without renewal, by the database clock. A dead
   * publisher is replaced within leaseDuration + heartbeatInterval, which must fit in staleServerTimeout.
   * @default '30s' (staleServerTimeout / 4 when only staleServerTimeout is set)
   */
  leaseDuration?: Duration;
  /**
   * The hard cap: rows older than this are pruned even when an active server has not applied them;
   * that server then cold-boots at its next poll.
   * @default '7d' (or retention, if that is longer)
   */
  maxRetention?: Duration;
  /** Cursors and registrations of servers inactive for longer than this are deleted. @default maxRetention ('7d') */
  forgetServersAfter?: Duration;
  /** When `cache.health()` reports `healthy: false`. */
  health?: HealthThresholds;
  /** Prefix for every table. @default '' */
  tablePrefix?: string;
  /**
   * Wake up as soon as another process commits, instead of at the next poll: LISTEN/NOTIFY on
   * PostgreSQL (one listener connection per process), a watch on the WAL file on SQLite. Polling
   * stays the safety net. MySQL has no wake-up.
   *
   * PostgreSQL behind a transaction-mode pooler (PgBouncer `pool_mode = transaction`): LISTEN needs
   * a session of its own, so pass the listener's connection here, as a URL or pg connection
   * settings, straight to PostgreSQL (or a session-mode pool); queries still go through knex.
   * Without one, the listener probes at each connect and turns the wake-up off when its own NOTIFY
   * does not come back, with a warning and a line in `health().warnings`.
   * `'relay'`, in a Node `cluster` worker: no LISTEN of its own; the primary's one (distcache/cluster) wakes it over IPC.
   * @example notify: 'postgres://app@db-primary:5432/app'
   * @default true
   */
  notify?: boolean | 'relay' | string | NotifyConnectionSettings;
  /**
   * PostgreSQL: run the poll as a named prepared statement, parsed and planned once per pooled
   * connection (an idle poll costs about a third as much). Behind a transaction-mode pooler
   * without prepared-statement support (PgBouncer before 1.21) turn it off; a store that meets
   * the pooler's "prepared statement does not exist" error also turns it off by itself.
   * @default true
   */
  preparedStatements?: boolean;
  /** How often to poll the log. @default 1000 (1 s) */
  syncInterval?: Duration;
  /** Rows read per query while catching up; bounds memory. @default 100 */
  pageSize?: number;
  /** More pending instructions than this (summed instruction_count) makes a cold boot. @default 1000 */
  maxPendingInstructions?: number;
  /** With no stored cursor, start at the head without a cold boot (for caches that start empty). @default false */
  startFromHead?: boolean;
  /** Replaces "call refreshAll() on every refresher" during a cold boot. */
  onColdBoot?: (context: { reason: ColdBootReason }) => void | Promise<void>;
  /** Rows older than this are pruned once every active server has applied them (see `maxRetention` for the hard cap). @default '2d' */
  retention?: Duration;
  /**
   * node-cron expression for the scheduled prune, or false to never prune on a schedule. Every
   * server keeps the schedule but only the scheduling publisher (or single server) runs it.
   * @default '* * * * *' (every minute)
   */
  pruneSchedule?: string | false;
  /** Rows deleted per prune statement, so a prune never holds long locks. @default 250 */
  pruneChunkSize?: number;
  /**
   * The share of a prune's time spent deleting: after each chunk it rests in proportion to how
   * long the chunk took, so writers sharing the database keep their latency (1: no rest).
   * @default 0.1 (rest nine times as long as each chunk took: on a 2-core machine a third still
   * doubled the writers' p99 while a large backlog was deleted; see BENCHMARKS.md #6)
   */
  pruneDutyCycle?: number;
  /** Every database query is bounded by this. @default '10s' */
  queryTimeout?: Duration;
  /** Every refresher call is bounded by this. @default '30s' */
  refresherTimeout?: Duration;
  /** Retries of a failing refresher call before falling back to refreshAll(). @default 3 */
  refresherRetries?: number;
  /** First retry delay; it doubles on each retry. @default 100 */
  retryDelay?: Duration;
  /**
   * Longest wait between polls after repeated errors. Short by default so a server catches up
   * within two intervals of the database coming back; a failing poll against a down database is cheap.
   * @default 2 × syncInterval
   */
  maxErrorBackoff?: Duration;
  /** Instructions per row before a write is cut into several rows. @default 1000 */
  maxInstructionsPerRow?: number;
  /**
   * The largest row, in bytes of its JSON text, that this server writes or reads. A write whose
   * single instruction is larger is refused (E_ROW_TOO_LARGE); a larger row in the log (written by
   * plain SQL) is never fetched: it counts as malformed, and every refresher is refreshed instead.
   * At most 16 MiB, the ceiling the table's CHECK enforces for every writer (migration 007).
   * @default 16777216 (16 MiB)
   */
  maxRowBytes?: number;
  /** The most bytes of rows one page of a catch-up reads (its first row always), beside `pageSize`. @default 33554432 (32 MiB) */
  maxPageBytes?: number;
  /**
   * Wake-ups (NOTIFY, a WAL change) start at most one poll per this long: anyone who can send a
   * NOTIFY on the cluster's channel can then cost each server at most 1 / wakeThrottle polls a second.
   * @default 50
   */
  wakeThrottle?: Duration;
  /** How long `stop()` waits for a poll (and a prune) in flight. @default '10s' */
  stopTimeout?: Duration;
  /** A pino-compatible logger. @default warnings and errors to the console */
  logger?: Logger;
}

/** Thresholds of `cache.health()`. Crossing any of them makes `healthy` false. */
export interface HealthThresholds {
  /** The oldest instruction this server has not applied may be at most this old. @default '1m' (or 3 × syncInterval, if longer) */
  maxLag?: Duration;
  /** At most this many instructions may be waiting. @default maxPendingInstructions (1000) */
  maxPending?: number;
  /** The last successful poll may be at most this long ago. @default '1m' (or 3 × syncInterval, if longer) */
  maxSyncAge?: Duration;
}

/** The options after defaults and validation; frozen. */
export interface ResolvedOptions {
  readonly knex: Knex;
  /** True when distcache built `knex` from the `connection` option: stop() destroys it. */
  readonly ownsKnex: boolean;
  readonly replicas: readonly Knex[];
  readonly maxReplicaLag: number;
  readonly refreshers: readonly AnyCacheRefresher[];
  readonly serverIdentity: string;
  readonly cluster: string;
  readonly role: RoleOption;
  readonly heartbeatInterval: number;
  readonly staleServerTimeout: number;
  readonly leaseDuration: number;
  readonly maxRetention: number;
  readonly forgetServersAfter: number;
  readonly health: Readonly<{ maxLag: number; maxPending: number; maxSyncAge: number }>;
  readonly tablePrefix: string;
  readonly notify: boolean;
  /** The listener's own connection from the `notify` option; undefined: knex's settings. */
  readonly notifyConnection: string | Readonly<NotifyConnectionSettings> | undefined;
  readonly notifyRelay: boolean; // notify: 'relay'
  readonly preparedStatements: boolean;
  readonly syncInterval: number;
  readonly pageSize: number;
  readonly maxPendingInstructions: number;
  readonly startFromHead: boolean;
  readonly onColdBoot: DistributedCacheOptions['onColdBoot'];
  readonly retention: number;
  readonly pruneSchedule: string | false;
  readonly pruneChunkSize: number;
  readonly pruneDutyCycle: number;
  readonly queryTimeout: number;
  readonly refresherTimeout: number;
  readonly refresherRetries: number;
  readonly retryDelay: number;
  readonly maxErrorBackoff: number;
  readonly maxInstructionsPerRow: number;
  readonly maxRowBytes: number;
  readonly maxPageBytes: number;
  readonly wakeThrottle: number;
  readonly stopTimeout: number;
  readonly logger: Logger;
}

/** Declared once for DEFAULTS' two uses of it: the cold-boot threshold and health's default maxPending. */
const MAX_PENDING_INSTRUCTIONS = 1000;

export const DEFAULTS = Object.freeze({
  cluster: 'default',
  tablePrefix: '',
  // An indexed poll costs well under a millisecond, so 50 servers polling every second add
  // 50 cheap queries/s, while a change reaches every server within a second (Umbraco waits 5 s).
  syncInterval: 1000,
  maxReplicaLag: 10_000,
  pageSize: 100,
  maxPendingInstructions: MAX_PENDING_INSTRUCTIONS,
  startFromHead: false,
  notify: true,
  preparedStatements: true,
  retention: 2 * 24 * 3600_000,
  pruneSchedule: '* * * * *',
  pruneChunkSize: 250,
  pruneDutyCycle: 0.1,
  queryTimeout: 10_000,
  refresherTimeout: 30_000,
  refresherRetries: 3,
  retryDelay: 100,
  // Umbraco cuts a row at 1,000 instructions; so do we by default (Admin.send too).
  maxInstructionsPerRow: 1000,
  // The table's CHECK (migration 007) is the ceiling; a cache-invalidation row larger than this is abuse.
  maxRowBytes: MAX_ROW_BYTES,
  // Two of the largest rows: a catch-up's memory stays bounded whatever the log holds.
  maxPageBytes: MAX_PAGE_BYTES,
  // A poll costs well under a millisecond: 20 a second is no load, and a NOTIFY flood gets no more.
  wakeThrottle: 50,
  stopTimeout: 10_000,
  role: 'auto' as RoleOption,
  // Umbraco's value. Long enough that a GC pause, a deploy or a slow database never makes a live
  // server look dead (which would let pruning pass it and force a cold boot).
  staleServerTimeout: 120_000,
  // A twelfth of the stale timeout: a live server misses many heartbeats before it looks dead,
  // and 10 s costs each server a handful of indexed queries every 10 s.
  heartbeatInterval: 10_000,
  // Three heartbeats: the holder survives two failed renewals, and a dead holder is replaced within
  // 30 s + one heartbeat = 40 s, well inside the 2-minute stale timeout (Umbraco takes minutes).
  leaseDuration: 30_000,
  // A server lagging a week behind needs a cold boot anyway; past that, one wedged server must not
  // make the table grow without bound.
  maxRetention: 7 * 24 * 3600_000,
  // = maxRetention: after the hard cap nothing a gone server's cursor points at is left to protect.
  forgetServersAfter: 7 * 24 * 3600_000,
  // health.maxPending follows maxPendingInstructions when that is set (options/resolve.ts).
  health: Object.freeze({ maxLag: 60_000, maxPending: MAX_PENDING_INSTRUCTIONS, maxSyncAge: 60_000 }),
} satisfies Partial<Record<keyof ResolvedOptions, unknown>>);

/** Defaults that differ when `replicas` are given: the poll is the wake-up (notify is off), and it costs the replicas, not the primary. */
export const REPLICA_DEFAULTS = Object.freeze({ syncInterval: 250, notify: false });

/**
 * pg connection settings for the listener (host, port, user, password, database, ssl, ...), as
 * knex's `connection` takes them for the pg client.
 */
export interface NotifyConnectionSettings {
  host?: string;
  port?: number;
  user?: string;
  password?: string | (() => string | Promise<string>);
  database?: string;
  connectionString?: string;
  ssl?: unknown;
  [setting: string]: unknown;
}
