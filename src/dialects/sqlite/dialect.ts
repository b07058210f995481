import type { Dialect } from '../types.js';
import { sqliteTrigger } from './trigger.js';
import { sqliteOperatorConnection } from './operator-connection.js';
import { refuseReplicas } from '../refuse-replicas.js';
import { SqliteStore } from './store.js';
import { SQLITE_NOW } from './sql/clock.js';
import { createSqliteWakeSource } from './wake-source.js';
import { withSqliteMigrationLock } from './migration-lock.js';

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  clients: ['better-sqlite3', 'sqlite3'],
  createStore: (config) => new SqliteStore(config),
  createReplicatedStore: () => refuseReplicas(),
  nowDefault: (knex) => knex.raw(`(${SQLITE_NOW})`),
  // ISO-8601 text in UTC: compares correctly as text, and parses as a Date.
  timestamp: (table, name) => table.string(name, 30),
  triggerSql: sqliteTrigger,
  operatorConnection: sqliteOperatorConnection,
  listenerConnection: false,
  functionOwner: null,
  transactionalDdl: true,
  // knex's lock row plus SQLite's write lock; see migration-lock.ts for what that needed.
  withMigrationLock: withSqliteMigrationLock,
  // A watch on the WAL file, only as a hint; see wake-source.ts and wal-watcher.ts.
  createWakeSource: (config) => createSqliteWakeSource(config),
};
