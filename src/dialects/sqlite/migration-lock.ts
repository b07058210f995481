import type { Knex } from 'knex';

/** How long a migrating process waits for SQLite's write lock. */
const MIGRATION_BUSY_TIMEOUT_MS = 60_000;

/**
 * What makes migrating processes on one SQLite file safe to run at once. PostgreSQL and MySQL
 * serialize whole runs with a server-side lock; a file has none, so this leans on knex's lock row
 * and on SQLite's write lock, and fixes two ways those go wrong.
 *
 * - Waiting. With the usual busy timeout (5 s) a run that holds knex's lock row could fail with
 *   SQLITE_BUSY while other processes retried, and then fail again freeing the row: it stayed
 *   locked and every process waited out its deadline. So the run waits up to 60 s for the file.
 * - The lock row itself. knex creates its lock table and then inserts the row after a separate
 *   read, outside any transaction. Two processes migrating a new file at once can both insert
 *   one; knex's `update ... where is_locked = 0` then changes two rows, which it reads as "already
 *   locked", and every later run fails the same way (seen here in 2 of 40 races of 5 processes).
 *   So the table and its one row are made first, each in a single statement that holds the write
 *   lock while it checks; knex then finds them and inserts nothing. A file the race already broke
 *   is repaired by keeping only the first row.
 */
export async function withSqliteMigrationLock<T>(knex: Knex, migrationsTable: string, work: () => Promise<T>): Promise<T> {
  const [current] = (await knex.raw('pragma busy_timeout')) as Array<{ timeout?: number }>;
  const previous = Number(current?.timeout ?? 5000);
  await knex.raw(`pragma busy_timeout = ${Math.max(previous, MIGRATION_BUSY_TIMEOUT_MS)}`);
  try {
    await ensureOneLockRow(knex, `${migrationsTable}_lock`);
    return await work();
  } finally {
    await knex.raw(`pragma busy_timeout = ${Math.trunc(previous)}`).catch(() => undefined);
  }
}

async function ensureOneLockRow(knex: Knex, lockTable: string): Promise<void> {
  // The same shape knex gives it (increments('index').primary(), integer('is_locked')).
  await knex.raw('create table if not exists ?? (`index` integer not null primary key autoincrement, `is_locked` integer)', [lockTable]);
  await knex.raw('insert into ?? (`is_locked`) select 0 where not exists (select 1 from ??)', [lockTable, lockTable]);
  await knex.raw('delete from ?? where `index` > (select min(`index`) from ??)', [lockTable, lockTable]);
}
