import type { Dialect } from '../dialect.js';
import { PostgresStore } from './store.js';
import { PostgresWakeSource } from './wake-source.js';
import { withMigrationLock } from './migration-lock.js';

export const postgresDialect: Dialect = {
  name: 'postgres',
  clients: ['pg', 'postgres', 'postgresql'],
  createStore: (config) => new PostgresStore(config),
  nowDefault: (knex) => knex.raw('now()'),
  timestamp: (table, name) => table.timestamp(name, { useTz: true, precision: 6 }),
  /**
   * Each row records the id of the transaction that wrote it (PgQ's method). A column default,
   * not a trigger or application code, so plain SQL writers that name only the payload columns
   * get it too. The index serves both halves of the "not covered by a snapshot" lookup.
   */
  async createCursorSupport(knex, tables) {
    await knex.raw('alter table ?? add column txid xid8 not null default pg_current_xact_id()', [tables.instruction]);
    // (cluster, txid, id): a page is one index range in exactly the order it is applied, even when
    // one transaction wrote many rows, so the planner never has to sort the rest of a backlog.
    await knex.raw('create index ?? on ?? (cluster, txid, id)', [`${tables.instruction}_txid`, tables.instruction]);
  },
  // The column and its index go with the table.
  async dropCursorSupport() {},
  transactionalDdl: true,
  withMigrationLock,
  // LISTEN/NOTIFY on one dedicated session per process; see wake-source.ts and listener.ts.
  createWakeSource: (config) => new PostgresWakeSource(config),
};
