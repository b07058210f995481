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
   * A store that reads from streaming replicas and writes to the primary (the `replicas` option).
   * Dialects whose replicas cannot be read exactly throw E_REPLICAS_UNSUPPORTED.
   */
  createReplicatedStore(config: StoreConfig, replicas: ReplicaSettings): InstructionStore;
  /**
   * A column default for "now, by the database clock", at millisecond precision or better.
   * For tables made outside the migrations (bench); a migration writes its own, frozen.
   */
  nowDefault(knex: Knex): Knex.Raw;
  /** Adds a timestamp column that holds the database clock's UTC time. */
  timestamp(table: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder;
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
}

export interface ReplicaSettings {
  readonly replicas: readonly Knex[];
  /** A replica whose newest tick is older than this is passed over. */
  readonly maxReplicaLag: number;
  /** How long a failed replica is left alone before it is tried again. */
  readonly retryAfter: number;
}
