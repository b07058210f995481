import type { Knex } from 'knex';
import type { StoreConfig } from '../store/store-config.js';
import type { InstructionStore } from '../store/store.js';
import type { WakeSource, WakeSourceConfig } from '../wake/wake-source.js';

/**
 * What differs between databases, as one object per dialect. The core asks the dialect; it never
 * branches on the client name itself.
 */
export interface Dialect {
  readonly name: 'postgres' | 'sqlite' | 'mysql';
  /** knex client names this dialect serves. */
  readonly clients: readonly string[];
  createStore(config: StoreConfig): InstructionStore;
  /**
   * A store that reads from replicas and writes to the primary (the `replicas` option). SQLite,
   * which has none, throws E_REPLICAS_UNSUPPORTED.
   */
  createReplicatedStore(config: StoreConfig, replicas: ReplicaSettings): InstructionStore;
  /**
   * A column default for "now, by the database clock", at millisecond precision or better.
   * For tables made outside the migrations (bench); a migration writes its own, frozen.
   */
  nowDefault(knex: Knex): Knex.Raw;
  /** Adds a timestamp column that holds the database clock's UTC time. */
  timestamp(table: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder;
  /**
   * Its wake-up listens on a connection of its own, which the `notify` option may hand it
   * (PostgreSQL's LISTEN); elsewhere a connection there would go unused, and is refused.
   */
  readonly listenerConnection: boolean;
  /**
   * How `functionOwner` hands the SQL entry points to an account of their own: 'role' (PostgreSQL:
   * migration 005's SECURITY DEFINER functions owned by a NOLOGIN role), 'definer' (MariaDB: the
   * procedures re-defined with DEFINER = a locked account), null where there are no users (SQLite).
   */
  readonly functionOwner: 'role' | 'definer' | null;
  /** Whether migrations may run inside one transaction with their DDL. */
  readonly transactionalDdl: boolean;
  /**
   * Runs `work` while holding a database-wide lock, for migrations where knex's own lock is not
   * enough (without transactional DDL knex does not look again at what is done after waiting).
   */
  withMigrationLock?<T>(knex: Knex, name: string, work: () => Promise<T>): Promise<T>;
  /**
   * Tells one cache about commits elsewhere sooner than its next poll (LISTEN/NOTIFY, a file
   * watch). Absent, or undefined for a database that cannot have one: polling only.
   */
  createWakeSource?(config: WakeSourceConfig): WakeSource | undefined;
  /**
   * The SQL of a generated trigger on an application table (`distcache trigger`): install (`up`)
   * and remove (`down`), in order. Run in one transaction when `transactionalDdl`.
   */
  triggerSql(args: TriggerArgs): TriggerSql;
  /** How an operator's short-lived connection (the CLI) is bounded and made read-only. */
  readonly operatorConnection: OperatorConnection;
}

/** The driver settings of an operator's connection (`<dialect>/operator-connection.ts`). */
export interface OperatorConnection {
  /**
   * Bounds opening a connection by `timeoutMs` in the driver itself, so a database that accepts
   * TCP and never answers cannot keep the process alive after the error is reported.
   */
  connectTimeout(config: Knex.Config, timeoutMs: number): Knex.Config;
  /**
   * Every connection of the pool refuses to write, and nothing stays on the session a pooler may
   * hand to the application next (see read-only-transactions.ts).
   */
  readOnly(config: Knex.Config, timeoutMs: number): Knex.Config;
}

/** A generated trigger's names and values, already checked and quoted as literals (admin/trigger.ts). */
export interface TriggerArgs {
  /** The application table and its key column: plain identifiers. */
  table: string;
  key: string;
  /** The refresher id and the cluster, as SQL string literals. */
  refresher: string;
  cluster: string;
  /** Migration 005's entry point (a function, procedure or view, by dialect). */
  write: string;
  /** PostgreSQL: the write function with its schema, as the pinned search_path needs. */
  qualifiedWrite: string;
  /** The trigger's name without its suffix, at most 55 characters. */
  base: string;
  /** PostgreSQL: a statement changing more rows writes one refresh-all. */
  rowLimit: number;
}

export interface TriggerSql {
  up: string[];
  down: string[];
}

export interface ReplicaSettings {
  readonly replicas: readonly Knex[];
  /** A replica whose newest tick is older than this is passed over. */
  readonly maxReplicaLag: number;
  /** How long a failed replica is left alone before it is tried again. */
  readonly retryAfter: number;
}
