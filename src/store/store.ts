import type { Knex } from 'knex';
import type { BoundableQuery } from './bound-query.js';
import type { Executor, SyncExecutor } from './executor.js';
import type { NewFailure, StoredFailure } from './failure-record.js';

// The failure record's types are the seam's too: imported from here like the rest.
export type { FailureAction, NewFailure, StoredFailure } from './failure-record.js';

/**
 * The storage seam. The core (poller, writer, pruner) talks to the database only through this
 * interface; each dialect implements it and declares what it can do in `capabilities`.
 *
 * A *position* is an opaque text a dialect uses as a cursor. It means "every committed row this
 * position covers has been read". On SQLite it is the row id, on MySQL the commit-ordered
 * sequence number, on PostgreSQL a `pg_snapshot`. The core never parses it.
 *
 * Every query is scoped to the store's cluster and bounded by its query timeout.
 */
export interface InstructionStore {
  readonly capabilities: StoreCapabilities;
  /**
   * PostgreSQL: whether statements still run prepared; false once a pooler showed it cannot keep
   * them (see postgres/prepared.ts). Undefined where statements are never prepared.
   */
  readonly preparedStatements?: boolean;

  /** Inserts rows in one transaction (or inside `trx`); returns their ids in order. */
  insert(rows: readonly NewInstructionRow[], trx?: Knex.Transaction): Promise<number[]>;

  /**
   * Inserts rows through a client library's transaction (an executor, see store/executor.ts):
   * the same row, with the dialect's own id read-back. Returns their ids in order.
   */
  insertVia(executor: Executor, rows: readonly NewInstructionRow[]): Promise<number[]>;
  /** `insertVia` for a synchronous executor (better-sqlite3); throws when its `query` returns a promise. */
  insertViaSync(executor: SyncExecutor, rows: readonly NewInstructionRow[]): number[];

  /** A position that covers every row committed now. */
  head(): Promise<string>;

  /**
   * Whether `position` covers the row `id` of this cluster, by the row's own place in commit order
   * (PostgreSQL: its txid is visible in the snapshot; elsewhere its position is at or below it).
   * null when no such row can be seen: not committed (yet, or ever), pruned, or of another history.
   * One primary-key read, for `cache.waitFor()`.
   */
  covers(position: string, id: number): Promise<boolean | null>;

  /**
   * Reading from replicas only: writes the replicated tick. PostgreSQL: the primary's snapshot, from
   * which replicas take page targets (see postgres/replicated-store.ts); MySQL/MariaDB: a counter
   * and the primary's clock, for lag and cursor flags (mysql/replicated-store.ts). Absent elsewhere.
   */
  tick?(): Promise<void>;
  /** Reading from replicas only: a replica that served its last read, for reads that may be a little stale (the lease, by non-holders). */
  replicaForReads?(): Knex | undefined;
  /**
   * PostgreSQL only: lets `trx` commit without waiting for its WAL flush
   * (`SET LOCAL synchronous_commit = off`). For the heartbeat that carries a cursor save: a save
   * lost in a crash only applies those rows again, which at-least-once allows.
   */
  lazyCommit?(trx: Knex.Transaction): Promise<void>;
  /**
   * Reading from replicas only (MySQL/MariaDB): checks each replica's settings at start; rejects
   * with E_REPLICA_NOT_EXACT when one cannot keep the primary's commit order. Unreachable replicas
   * are only reported.
   */
  verifyReplicas?(): Promise<void>;
  /** Reading from replicas only: what the last reads found of each replica; for health(). */
  readonly replicaReports?: ReplicaReport[];

  /**
   * Reads the next page of rows committed after `from`, oldest first, in one query.
   * `token` is null for the first page, then the previous page's `token`.
   * A page's `position`, when not null, may be stored once its rows are applied.
   * The same query reads `identity`'s cursor flag, so an idle poll costs one query.
   */
  readPage(identity: string, from: string, token: string | null, limit: number): Promise<InstructionPage>;

  /** Rows and summed instruction_count not yet covered by `from`. */
  pending(from: string): Promise<PendingSummary>;

  /**
   * `pending` for several positions in one statement (the dashboard's and `status`'s list of every
   * server), keyed by position. Equal positions are counted once.
   */
  pendingMany(positions: readonly string[]): Promise<Map<string, PendingSummary>>;

  /**
   * Rows not covered by `from`, decoded by the caller; for the CLI's `pending`. Bounded by `limit`,
   * and each body by `maxRowBytes` (default: the store's): a larger one comes as its size alone.
   */
  listPending(from: string, limit: number, maxRowBytes?: number): Promise<StoredInstructionRow[]>;

  /** One row by id, or undefined. */
  getRow(id: number): Promise<StoredInstructionRow | undefined>;

  /** The newest rows, newest last. */
  newest(limit: number): Promise<StoredInstructionRow[]>;

  /** Counts and bounds of the whole log, for status. */
  logSummary(retentionMs: number): Promise<LogSummary>;

  loadCursor(identity: string): Promise<CursorState | undefined>;
  /**
   * Stores a position after applying. A cold-boot request stays set; the next poll sees it.
   * `databaseIdentity`, when given, is stored with it (see `databaseIdentity()`).
   */
  saveCursor(identity: string, position: string, databaseIdentity?: string | null): Promise<void>;
  /** Stores a position after a cold boot (or a fresh start) and clears any cold-boot request. */
  resetCursor(identity: string, position: string, databaseIdentity?: string | null): Promise<void>;
  /** Makes `identity` cold-boot at its next poll. Returns false when it has no cursor. */
  requestColdBoot(identity: string): Promise<boolean>;
  /** Makes every server of the cluster that has a cursor cold-boot at its next poll; returns how many were flagged. */
  requestColdBootAll(): Promise<number>;

  /**
   * Which database, and which history of it, positions are read from: on PostgreSQL the system
   * identifier and the timeline (`'7312…:2'`), which a dump/restore, a promotion or a PITR change.
   * null where the database has no such identity (SQLite, MySQL): there, `readPage` compares the
   * position with the log's head instead. One light query; the poller asks at start, after a run of
   * failed polls, and when a page's `databaseEpoch` changes, never on an idle poll.
   */
  databaseIdentity(): Promise<string | null>;
  /**
   * Rows whose position belongs to another history (PostgreSQL: a txid at or above the current
   * snapshot's xmax, as a dump of a busier cluster leaves behind). `settle` re-stamps them as
   * covered by every position, so they are never applied later as if new; returns how many there were.
   */
  foreignRows(settle: boolean): Promise<number>;
  listCursors(): Promise<Array<CursorState & { identity: string }>>;
  deleteCursor(identity: string): Promise<boolean>;

  /**
   * Deletes up to `limit` rows older than `olderThanMs` (by the database clock), never the newest
   * row, and when `coveredBy` is given only rows that every one of those positions covers. Before deleting, marks every cursor that
   * had not yet read a doomed row as needing a cold boot. Safe to run from several servers at once.
   */
  pruneChunk(options: PruneChunkOptions): Promise<PruneChunkResult>;
  /** What `pruneChunk` would delete, without deleting; for dry runs. */
  prunePreview(options: Omit<PruneChunkOptions, 'limit'>): Promise<{ rows: number; minId: number | null; maxId: number | null }>;

  recordFailure(failure: NewFailure): Promise<void>;
  /**
   * Deletes up to `limit` of the cluster's failure records older than `olderThanMs` (by the database
   * clock); returns how many. The pruner runs it with the log's, so cache_failure cannot grow forever.
   */
  pruneFailures?(olderThanMs: number, limit: number): Promise<number>;
  listFailures(filter: { identity?: string; limit: number }): Promise<StoredFailure[]>;
  countFailures(): Promise<number>;

  /** The database clock, so no decision depends on a machine's local clock. */
  now(): Promise<Date>;

  /**
   * SQL for "the database clock minus `agoMs`" (agoMs ≥ 0), in the form distcache's timestamp columns store and
   * compare. The cluster tables (servers, lease) write and compare every time with it, so server
   * liveness and lease expiry never depend on a machine's local clock.
   */
  clockSql(agoMs: number): Knex.Raw;
  /** Bounds a query built elsewhere (the cluster tables) by the query timeout, as the store's own queries are. */
  bounded<T extends BoundableQuery>(query: T): Promise<Awaited<T>>;
  /**
   * The body column bounded by `maxRowBytes`, then its size in bytes, as this database measures it
   * (see store/row-bytes.ts); for reads built elsewhere (Admin's tail and show).
   */
  bodyColumns(quoted: string, maxRowBytes: number): string[];
}

/** What health() says of one replica (the `replicas` option). */
export interface ReplicaReport {
  /** host:port/database, never credentials. */
  name: string;
  /**
   * 'ok': it served the last read it was asked for. 'lagging': its newest tick is older than
   * maxReplicaLag (replay stopped or slow). 'no-tick': it shows no tick yet. 'down': its last query
   * failed (stopped, disconnected). 'not-exact' (MySQL/MariaDB): its replication settings cannot
   * keep the primary's commit order, so it is never read (lastError names the setting and the fix).
   * 'stopped' (MySQL/MariaDB): its replication SQL thread is not running. 'unknown': not asked yet.
   */
  state: 'ok' | 'lagging' | 'no-tick' | 'down' | 'not-exact' | 'stopped' | 'unknown';
  /** Age of the newest tick it shows, in ms (its clock against the primary's stamp); null when unknown. */
  tickAgeMs: number | null;
  lastError: string | null;
  /** When it was last asked, by the local clock. */
  checkedAt: Date | null;
}

export interface StoreCapabilities {
  readonly dialect: 'postgres' | 'sqlite' | 'mysql';
  /**
   * A wake-up exists for this database (PostgreSQL LISTEN/NOTIFY, a watch on SQLite's WAL file):
   * another process's commit can reach this one sooner than its next poll. Always only a hint.
   */
  readonly notify: boolean;
  /**
   * A statement past `queryTimeout` can be cancelled on the database server (PostgreSQL's
   * CancelRequest, MySQL's KILL QUERY). SQLite runs in this process: there is nothing to cancel.
   */
  readonly serverCancel: boolean;
}

export interface NewInstructionRow {
  json: string;
  originated: string;
  /** The writing DistributedCache instance, so its own poller can skip the row. */
  originInstance: string | null;
  instructionCount: number;
}

export interface StoredInstructionRow {
  id: number;
  utcStamp: Date;
  /** '' when the body was not read (see `oversizeBytes`). */
  json: string;
  /**
   * Set when the row's JSON is larger than the reader's maxRowBytes: its size in bytes. Its body
   * was never fetched, and it counts as malformed.
   */
  oversizeBytes?: number;
  originated: string;
  originInstance: string | null;
  instructionCount: number;
}

export interface InstructionPage {
  rows: StoredInstructionRow[];
  /** Pass back to read the next page; null when everything committed so far has been read. */
  token: string | null;
  /** A position that may be stored once `rows` are applied; null when it cannot be stored yet. */
  position: string | null;
  /**
   * `identity`'s cursor asks for a cold boot (a prune passed it, or an operator's resync); null: no
   * cursor. A window's first page (no token) always reads it; later pages of a catch-up may not
   * (undefined), as the poller acts on the first page only.
   */
  coldBootRequested: boolean | null | undefined;
  /**
   * Why `from` cannot belong to this log, as found by the page statement itself; null when nothing
   * is wrong. PostgreSQL: the position's xmax is above the database's (the xid counter went back),
   * or rows carry txids of another history. SQLite, MySQL: the position is past the log's head.
   * A window's first page always checks; later pages may not (null).
   */
  historyBroken: string | null;
  /**
   * Changes whenever the server answering may be another database or history (PostgreSQL: the
   * postmaster's start time and the WAL insert timeline, both read from memory). The poller checks
   * `databaseIdentity()` when it changes. Undefined where the store has none.
   */
  databaseEpoch?: string;
}

export interface PendingSummary {
  rows: number;
  instructions: number;
  oldest: Date | null;
}

export interface LogSummary {
  rows: number;
  instructions: number;
  minId: number | null;
  maxId: number | null;
  oldest: Date | null;
  newest: Date | null;
  pastRetention: number;
}

export interface CursorState {
  position: string;
  /** `databaseIdentity()` when the position was stored; null when unknown (SQLite, MySQL, or an older version). */
  databaseIdentity: string | null;
  coldBootRequested: boolean;
  lastSynced: Date | null;
}

export interface PruneChunkOptions {
  olderThanMs: number;
  limit: number;
  /** Only rows covered by every one of these positions; membership-aware pruning sets it. */
  coveredBy?: readonly string[];
}

export interface PruneChunkResult {
  deleted: number;
  /** Identities whose cursors were marked for a cold boot by this chunk. */
  marked: string[];
}
