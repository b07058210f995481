import type { Knex } from 'knex';
import type { Dialect } from '../dialect.js';
import { PostgresStore } from './store.js';
import { PostgresWakeSource } from './wake-source.js';

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
  // LISTEN/NOTIFY on one dedicated session per process; see src/wake/postgres/.
  createWakeSource: (config) => new PostgresWakeSource(config),
};

/**
 * A transaction-scoped advisory lock around the whole migration run: taken with
 * pg_try_advisory_xact_lock in a transaction kept open on a connection set aside (the migrations
 * use other pool connections, so the pool needs at least two), and released by its commit or
 * rollback, or by PostgreSQL when that session goes. Never a session lock: behind a
 * transaction-mode pooler the unlock would run on another server session, and the lock would stay
 * with an idle pooled session for good. A process that finds the lock taken does not wait inside
 * a transaction (that would hold a pooled server session while waiting): it fails with knex's
 * MigrationLocked, and migrate() looks again after a backoff, up to its lockTimeout.
 */
async function withMigrationLock<T>(knex: Knex, name: string, work: () => Promise<T>): Promise<T> {
  const trx = await knex.transaction();
  try {
    const { rows } = (await trx.raw('select pg_try_advisory_xact_lock(hashtext(?)) as locked', [`distcache:${name}`]).timeout(30_000, { cancel: true })) as {
      rows: Array<{ locked: boolean }>;
    };
    if (!rows[0]?.locked) throw Object.assign(new Error(`another process holds the distcache migration lock on ${name}`), { name: 'MigrationLocked' });
    return await work();
  } finally {
    await trx.rollback().catch(() => undefined);
  }
}
