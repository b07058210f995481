import knexFactory, { type Knex } from 'knex';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { sqliteConfig as librarySqliteConfig } from '../../src/connection.js';
import { triggerPlan } from '../../src/admin/trigger.js';
import { postgresDialect } from '../../src/dialects/postgres/dialect.js';
import { tableNames } from '../../src/store/tables.js';

/**
 * The databases the conformance suite runs against. SQLite always runs. PostgreSQL and MariaDB run
 * when reachable; on a laptop without them the suite skips with one line saying why, and under
 * CI=true an unreachable database fails the run instead.
 */
export type DialectName = 'sqlite' | 'postgres' | 'mysql';

export const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/**
 * PostgreSQL's own address for the wake-up listener while DATABASE_URL points at a pooler in
 * transaction mode (test/pooler-postgres.test.ts runs the suite so): caches with `notify: true` get it as
 * their `notify` connection. Unset: the listener uses DATABASE_URL like everything else.
 */
export const PG_NOTIFY_URL = process.env.DISTCACHE_PG_NOTIFY_URL || undefined;
export const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

export interface TestDatabase {
  dialect: DialectName;
  /** A knex config; every test gets its own tables through a fresh prefix. */
  config(): Knex.Config;
  /** A connection string a child process can use. */
  url(): string;
}

const sqliteDir = join(tmpdir(), 'distcache-tests');

/** Files this process made, removed (with their -wal and -shm) when it exits. */
const sqliteFiles = new Set<string>();

/**
 * A fresh SQLite file for one test. Every file is removed when the process that made it exits,
 * with its -wal and -shm (child processes given the file do not remove it); a test may remove
 * its own sooner with removeSqliteFile(). DISTCACHE_KEEP_TABLES=1 keeps them as evidence.
 */
export function sqliteFile(): string {
  mkdirSync(sqliteDir, { recursive: true });
  if (sqliteFiles.size === 0) process.once('exit', removeSqliteFiles);
  const file = join(sqliteDir, `t-${process.pid}-${randomBytes(4).toString('hex')}.sqlite`);
  sqliteFiles.add(file);
  return file;
}

/** Removes one file sqliteFile() made, with its -wal and -shm; its connections must be closed. */
export function removeSqliteFile(file: string): void {
  if (process.env.DISTCACHE_KEEP_TABLES === '1') return;
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
  sqliteFiles.delete(file);
}

function removeSqliteFiles(): void {
  // Unlinking a file a connection still has open is fine on Linux and macOS; on Windows it may fail.
  for (const file of [...sqliteFiles]) {
    try {
      removeSqliteFile(file);
    } catch {
      // best effort at exit
    }
  }
}

export function sqliteConfig(filename: string): Knex.Config {
  return librarySqliteConfig(filename, 10_000);
}

export const DATABASES: Record<DialectName, TestDatabase> = {
  sqlite: {
    dialect: 'sqlite',
    config: () => sqliteConfig(sqliteFile()),
    url: () => `sqlite://${sqliteFile()}`,
  },
  postgres: {
    dialect: 'postgres',
    config: () => ({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 20 } }),
    url: () => PG_URL,
  },
  mysql: {
    dialect: 'mysql',
    config: () => ({ client: 'mysql2', connection: `${MYSQL_URL}?timezone=Z&supportBigNumbers=true`, pool: { min: 0, max: 20 } }),
    url: () => MYSQL_URL,
  },
};

const reachability = new Map<DialectName, Promise<string | undefined>>();

/** undefined when reachable, else the reason it is not. */
export function unreachableReason(dialect: DialectName): Promise<string | undefined> {
  let pending = reachability.get(dialect);
  if (!pending) {
    pending = (async () => {
      if (dialect === 'sqlite') return undefined;
      const knex = knexFactory({ ...DATABASES[dialect].config(), pool: { min: 0, max: 1 }, acquireConnectionTimeout: 15_000 });
      try {
        await knex.raw('select 1');
        return undefined;
      } catch (err) {
        return (err as Error).message.replace(/\/\/[^@/]*@/, '//***@');
      } finally {
        await knex.destroy();
      }
    })();
    reachability.set(dialect, pending);
  }
  return pending;
}

/** Dialects selected by DISTCACHE_DIALECTS (comma separated), default all three. */
export function selectedDialects(): DialectName[] {
  const wanted = (process.env.DISTCACHE_DIALECTS ?? 'sqlite,postgres,mysql').split(',').map((s) => s.trim());
  return (['sqlite', 'postgres', 'mysql'] as const).filter((d) => wanted.includes(d));
}

/**
 * Resolves whether the suite for `dialect` runs. Returns a skip reason for node:test's `skip`,
 * or throws under CI=true, where an unreachable database is a failure.
 */
export async function availability(dialect: DialectName): Promise<string | false> {
  const reason = await unreachableReason(dialect);
  if (reason === undefined) return false;
  const line =
    `${dialect} unreachable (${reason}); its suite is skipped. Start it, or ` +
    `set ${dialect === 'postgres' ? 'DATABASE_URL' : 'MYSQL_URL'}.`;
  if (process.env.CI === 'true') throw new Error(`CI=true: ${line}`);
  console.log(`# ${line}`);
  return line;
}

let counter = 0;
/** A table prefix no other test uses, so tests never see each other's rows. */
export function freshPrefix(): string {
  counter += 1;
  return `t${process.pid.toString(36)}_${randomBytes(2).toString('hex')}${counter}_`;
}

/** Drops every table a prefix created; used after a test that passed. */
export async function dropPrefixed(knex: Knex, prefix: string): Promise<void> {
  const names = [
    'app_data',
    'cache_failure',
    'cache_cursor',
    'cache_server',
    'cache_lease',
    'cache_instruction',
    'cache_sequence',
    'cache_tick',
    'cache_action',
    'distcache_migrations',
    'distcache_migrations_lock',
  ];
  // The SQL functions of migration 005 (PostgreSQL, MySQL) outlive their tables.
  const client = String((knex.client as { config?: { client?: unknown } }).config?.client);
  for (const name of ['write', 'refresh', 'remove', 'refresh_all', 'payload', 'wake']) {
    const routine = `${prefix}distcache_${name}`;
    const statement =
      client === 'pg'
        ? `drop function if exists "${routine}"`
        : client === 'mysql2'
          ? `drop procedure if exists \`${routine}\``
          : undefined;
    if (statement) await knex.raw(statement).catch(() => undefined);
  }
  // A generated trigger on the test's app_data table (see test/conformance/triggers.ts), removed by
  // its own plan's `down`, so the names here are the ones `distcache trigger` made. On PostgreSQL its
  // function outlives the table, and cannot be dropped while the table's triggers still use it: the
  // triggers go first. SQLite's triggers and MySQL's go with the table.
  if (client === 'pg') {
    const plan = triggerPlan(postgresDialect, tableNames(prefix), 'default', {
      table: `${prefix}app_data`,
      refresher: 'x',
      keyColumn: 'id',
    });
    for (const statement of plan.down) await knex.raw(statement).catch(() => undefined);
  }
  if (client === 'better-sqlite3' || client === 'sqlite3')
    await knex.raw(`drop view if exists "${prefix}distcache_write"`).catch(() => undefined);
  const changed = `${`${prefix}distcache_${prefix}app_data`.slice(0, 56)}_changed`;
  // And by name with cascade, in case the plan's names ever drift from the test's table.
  if (client === 'pg') await knex.raw(`drop function if exists "${changed}"() cascade`).catch(() => undefined);
  for (const name of names) {
    try {
      await knex.schema.dropTableIfExists(`${prefix}${name}`);
    } catch {
      // best effort: a failed drop leaves evidence, which is fine for a test database
    }
  }
  // Then every other table under the prefix: a test's own tables (an `item` table a region loads
  // from, say), which no list here can know. Only for a test's prefix, never a short or empty one.
  if (prefix.length < 4) return;
  for (const table of await prefixedTables(knex, client, prefix)) await knex.schema.dropTableIfExists(table).catch(() => undefined);
}

/** The tables of the connection's schema whose names start with `prefix`. */
async function prefixedTables(knex: Knex, client: string, prefix: string): Promise<string[]> {
  const query =
    client === 'pg'
      ? 'select tablename as name from pg_tables where schemaname = current_schema() and left(tablename, length(?)) = ?'
      : client === 'mysql2'
        ? 'select table_name as name from information_schema.tables where table_schema = database() and left(table_name, ?) = ?'
        : "select name from sqlite_master where type = 'table' and substr(name, 1, length(?)) = ?";
  const result = (await knex.raw(query, client === 'mysql2' ? [prefix.length, prefix] : [prefix, prefix]).catch(() => [])) as unknown;
  const rows = (Array.isArray(result) ? (client === 'mysql2' ? result[0] : result) : (result as { rows?: unknown[] }).rows) ?? [];
  const names = (rows as Array<{ name?: string; NAME?: string }>).map((r) => String(r.name ?? r.NAME));
  return names.filter((n) => n.startsWith(prefix));
}
