import type { Dialect } from '../types.js';
import { PostgresStore } from './store.js';
import { PostgresWakeSource } from './wake-source.js';
import { withMigrationLock } from './migration-lock.js';

export const postgresDialect: Dialect = {
  name: 'postgres',
  clients: ['pg', 'postgres', 'postgresql'],
  createStore: (config) => new PostgresStore(config),
  nowDefault: (knex) => knex.raw('now()'),
  timestamp: (table, name) => table.timestamp(name, { useTz: true, precision: 6 }),
  // The txid column and its (cluster, txid, id) index that make the cursor exact: migrations/001.
  transactionalDdl: true,
  withMigrationLock,
  // LISTEN/NOTIFY on one dedicated session per process; see wake-source.ts and listener.ts.
  createWakeSource: (config) => new PostgresWakeSource(config),
};
