import knexFactory, { type Knex } from 'knex';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { sqliteConfig as librarySqliteConfig } from '../../src/connection.js';

/**
 * The databases the conformance suite runs against. SQLite always runs. PostgreSQL and MariaDB run
 * when reachable; on a laptop without them the suite skips with one line saying why, and under
 * CI=true an unreachable database fails the run instead.
 */
export type DialectName = 'sqlite' | 'postgres' | 'mysql';

export const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/**
 * PostgreSQL's own address for the wake-up listener while DATABASE_URL points at a pooler in
 * transaction mode (test/pooler.test.ts runs the suite so): caches with `notify: true` get it as
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

export function sqliteFile(): string {
  mkdirSync(sqliteDir, { recursive: true });
  return join(sqliteDir, `t-${process.pid}-${randomBytes(4).toString('hex')}.sqlite`);
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
      const knex = knexFactory({ ...DATABASES[dialect].config(), pool: { min: 0, max: 1 }, acquireConnectionTimeout: 5000 });
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
  const line = `${dialect} unreachable (${reason}); its suite is skipped. Start it, or set ${dialect === 'postgres' ? 'DATABASE_URL' : 'MYSQL_URL'}.`;
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
  const names = ['app_data', 'cache_failure', 'cache_cursor', 'cache_server', 'cache_lease', 'cache_instruction', 'cache_sequence', 'distcache_migrations', 'distcache_migrations_lock'];
  for (const name of names) {
    try {
      await knex.schema.dropTableIfExists(`${prefix}${name}`);
    } catch {
      // best effort: a failed drop leaves evidence, which is fine for a test database
    }
  }
}
