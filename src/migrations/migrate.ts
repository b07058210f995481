import type { Knex } from 'knex';
import { connectionError, DistcacheError, errors, describeError } from '../errors.js';
import { quietPoolWarnings } from '../connection-errors.js';
import { validateTablePrefix } from '../identifiers.js';
import { dialectFor } from '../dialects/dialect.js';
import { tableNames, type TableNames } from '../store/tables.js';
import { checkFunctionOwner, ownFunctions } from './function-owner.js';
import { defineProcedures } from './procedure-definer.js';
import { MIGRATIONS } from './list.js';
import { DistcacheMigrationSource } from './source.js';

export interface MigrateOptions {
  /** Prefix for every table, matching /^[a-z][a-z0-9_]{0,31}$/. @default '' */
  tablePrefix?: string;
  /** How long to wait for another process's migration run to finish. @default 60000 */
  lockTimeout?: number;
  /**
   * PostgreSQL: a NOLOGIN role to own the SECURITY DEFINER functions, holding only INSERT on the log
   * (created when missing, given exactly that, checked to be no superuser and unable to log in).
   * MariaDB: a locked account (`'<name>'@'%' ACCOUNT LOCK`) made the DEFINER of the procedures, holding
   * only INSERT on the log and EXECUTE on the procedures. Without it they run with the migrating
   * user's rights. Pass it on every run: a later migration's new functions are handed over too. See
   * docs/security.md. @default undefined (owned by the migrating user)
   */
  functionOwner?: string;
}

export interface MigrateResult {
  /** Migrations this call applied; empty when the schema was already current. */
  applied: string[];
  /** With `functionOwner`: the functions it now owns, as `name(argument types)` (MariaDB: the procedures' names). */
  ownedFunctions?: string[];
}

/** knex settings that keep our migrations under our own table, never the app's knex_migrations. */
export function migrationConfig(knex: Knex, tables: TableNames): Knex.MigratorConfig {
  const dialect = dialectFor(knex);
  // Where DDL cannot roll back (MySQL), a transaction around it would only pretend to.
  return {
    migrationSource: new DistcacheMigrationSource(tables, dialect),
    tableName: tables.migrations,
    disableTransactions: !dialect.transactionalDdl,
  };
}

export function resolveTables(tablePrefix: string | undefined): TableNames {
  return tableNames(validateTablePrefix(tablePrefix ?? ''));
}

/**
 * Applies distcache's migrations. Idempotent, and safe to run from several processes at once:
 * knex's migration lock lets one run, and the others wait for it and then find nothing to do.
 */
export function migrate(knex: Knex, options: MigrateOptions = {}): Promise<MigrateResult> {
  return quietPoolWarnings(knex, () => migrateNow(knex, options));
}

async function migrateNow(knex: Knex, options: MigrateOptions): Promise<MigrateResult> {
  const tables = resolveTables(options.tablePrefix);
  const dialect = dialectFor(knex);
  const owner = options.functionOwner === undefined ? undefined : checkFunctionOwner(options.functionOwner, dialect);
  const deadline = Date.now() + (options.lockTimeout ?? 60_000);
  const applied = await underLock(knex, tables, deadline, () => latest(knex, tables), []);
  if (owner === undefined) return { applied };
  // Under the lock too: two processes granting and changing owners at once fail with "tuple concurrently updated".
  const hand = dialect.functionOwner === 'definer' ? defineProcedures : ownFunctions;
  const ownedFunctions = await underLock(knex, tables, deadline, () => hand(knex, tables, owner));
  return { applied, ownedFunctions };
}

async function latest(knex: Knex, tables: TableNames): Promise<string[]> {
  return ((await knex.migrate.latest(migrationConfig(knex, tables))) as [number, string[]])[1];
}

/**
 * Runs `work` holding the migration lock, waiting for another process's run until `deadline`.
 * `whenCurrent`: `work` applies migrations, and a failure with the schema current after all was only
 * a lost race, which returns this.
 */
async function underLock<T>(knex: Knex, tables: TableNames, deadline: number, work: () => Promise<T>, whenCurrent?: T): Promise<T> {
  let delay = 50;
  for (;;) {
    try {
      const { withMigrationLock } = dialectFor(knex);
      return withMigrationLock ? await withMigrationLock(knex, tables.migrations, work) : await work();
    } catch (err) {
      if (err instanceof DistcacheError) throw err;
      // Without transactional DDL (MySQL), knex does not look again at what is done after it
      // waited for the lock, so a process can re-run a migration another just finished. If the
      // schema is current now, that failure is only a lost race.
      // A database that cannot be reached, does not exist or refuses the login says so, not "may create tables".
      const connection = connectionError(err);
      if (connection) throw connection;
      if (whenCurrent !== undefined && (await isCurrent(knex, tables))) return whenCurrent;
      const contention = isContention(err, tables);
      if (!contention || Date.now() > deadline) {
        const hint = contention
          ? `another migration run still holds the lock on ${tables.migrations} after lockTimeout; ` +
            'wait for it to finish (or raise lockTimeout). ' +
            `If no run is in progress and ${tables.migrations}_lock says is_locked = 1 (MySQL, SQLite), ` +
            'clear it with `npx knex migrate:unlock` against that table'
          : 'check that the database user may create tables and indexes';
        throw new errors.MigrationFailedError(`distcache migrations failed: ${describeError(err)}; ${hint}`, { cause: err });
      }
      // Another process is migrating (or just created the migrations table): wait, then look again.
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 1000);
    }
  }
}

/**
 * Whether every migration is recorded as applied. It only reads: knex's migrate.list() would
 * create the migrations table, its lock table and the lock row, outside the migration lock, racing
 * the process that holds it; two lock rows leave knex reporting "already locked" for good.
 */
async function isCurrent(knex: Knex, tables: TableNames): Promise<boolean> {
  try {
    if (!(await knex.schema.hasTable(tables.migrations))) return false;
    const done = new Set(((await knex(tables.migrations).select('name')) as Array<{ name: string }>).map((row) => row.name));
    return MIGRATIONS.every((migration) => done.has(migration.name));
  } catch {
    return false;
  }
}

/**
 * Errors that mean "someone else is migrating right now", as opposed to a real failure: knex's
 * lock, or a race to create the migrations tables themselves. An "already exists" on any other
 * table is a real failure (on MySQL a half-applied migration cannot roll back its DDL).
 */
function isContention(err: unknown, tables: TableNames): boolean {
  const e = err as { name?: string; message?: string; code?: string };
  if (e?.name === 'MigrationLocked') return true;
  const message = String(e?.message ?? '');
  if (/already locked/i.test(message) || /database is locked/i.test(message) || e?.code === 'SQLITE_BUSY') return true;
  // PostgreSQL reports a race on CREATE TABLE as a duplicate in pg_type, without the table name.
  const aboutMigrationTables = message.includes(tables.migrations) || /pg_type_typname_nsp_index/.test(message);
  return (
    aboutMigrationTables &&
    (/already exists|duplicate (key|entry)|UNIQUE constraint failed/i.test(message) ||
      ['23505', '42P07', 'ER_TABLE_EXISTS_ERROR', 'ER_DUP_ENTRY'].includes(String(e?.code)))
  );
}
