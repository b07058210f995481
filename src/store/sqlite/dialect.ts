import type { Dialect } from '../dialect.js';
import { SQLITE_NOW, SqliteStore } from './store.js';
import { createSqliteWakeSource } from '../../wake/sqlite/source.js';

/** How long a migrating process waits for SQLite's write lock. */
const MIGRATION_BUSY_TIMEOUT_MS = 60_000;

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  clients: ['better-sqlite3', 'sqlite3'],
  createStore: (config) => new SqliteStore(config),
  nowDefault: (knex) => knex.raw(`(${SQLITE_NOW})`),
  // ISO-8601 text in UTC: compares correctly as text, and parses as a Date.
  timestamp: (table, name) => table.string(name, 30),
  // The AUTOINCREMENT row id is the cursor; nothing more is needed.
  async createCursorSupport() {},
  async dropCursorSupport() {},
  transactionalDdl: true,
  /**
   * knex's own lock row serializes migrating processes; this only makes each wait longer for the
   * file's write lock meanwhile. With the usual busy timeout (5 s) a run that holds knex's lock
   * could fail with SQLITE_BUSY while other processes retry, and then fail again freeing the
   * lock: the row stayed locked and every process waited out its deadline.
   */
  async withMigrationLock(knex, _name, work) {
    const [current] = (await knex.raw('pragma busy_timeout')) as Array<{ timeout?: number }>;
    const previous = Number(current?.timeout ?? 5000);
    await knex.raw(`pragma busy_timeout = ${Math.max(previous, MIGRATION_BUSY_TIMEOUT_MS)}`);
    try {
      return await work();
    } finally {
      await knex.raw(`pragma busy_timeout = ${Math.trunc(previous)}`).catch(() => undefined);
    }
  },
  // A watch on the WAL file, only as a hint; see src/wake/sqlite/.
  createWakeSource: (config) => createSqliteWakeSource(config),
};
