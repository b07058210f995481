import type { Dialect } from '../types.js';
import { postgresTrigger } from './trigger.js';
import { postgresOperatorConnection } from './operator-connection.js';
import { PostgresStore } from './store.js';
import { ReplicatedStore } from './replicated-store.js';
import { PostgresWakeSource } from './wake-source.js';
import { withMigrationLock } from './migration-lock.js';

export const postgresDialect: Dialect = {
  name: 'postgres',
  clients: ['pg', 'postgres', 'postgresql'],
  createStore: (config) => new PostgresStore(config),
  // Page reads on standbys, targets from the primary's replicated tick; see replicated-store.ts.
  createReplicatedStore: (config, replicas) => new ReplicatedStore({ ...config, ...replicas }),
  nowDefault: (knex) => knex.raw('now()'),
  timestamp: (table, name) => table.timestamp(name, { useTz: true, precision: 6 }),
  // The txid column and its (cluster, txid, id) index that make the cursor exact: migrations/001.
  triggerSql: postgresTrigger,
  operatorConnection: postgresOperatorConnection,
  listenerConnection: true,
  functionOwner: 'role',
  transactionalDdl: true,
  withMigrationLock,
  // LISTEN/NOTIFY on one dedicated session per process; see wake-source.ts and listener.ts.
  createWakeSource: (config) => new PostgresWakeSource(config),
};
