import knexFactory, { type Knex } from 'knex';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../../src/migrations/migrate.js';
import { sqliteConfig } from '../../src/connection.js';
import { tableNames } from '../../src/store/tables.js';

export type Db = 'postgres' | 'mysql' | 'sqlite';

export const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

export const DB_LABEL: Record<Db, string> = { postgres: 'PostgreSQL', mysql: 'MariaDB', sqlite: 'SQLite' };

/** Where a benchmark's database lives: a URL for the servers, a file for SQLite. */
export interface Target {
  db: Db;
  /** SQLite only. */
  file?: string;
  prefix: string;
  /** PostgreSQL: connect here instead of PG_URL (a PgBouncer in front of it). */
  url?: string;
}

export function knexFor(target: Pick<Target, 'db' | 'file' | 'url'>, poolMax = 10): Knex {
  if (target.db === 'sqlite') return knexFactory(sqliteConfig(target.file!, 30_000));
  if (target.db === 'postgres') return knexFactory({ client: 'pg', connection: target.url ?? PG_URL, pool: { min: 0, max: poolMax } });
  return knexFactory({ client: 'mysql2', connection: `${MYSQL_URL}?timezone=Z&supportBigNumbers=true`, pool: { min: 0, max: poolMax } });
}

const sqliteDir = join(tmpdir(), 'distcache-bench');

/** A fresh prefix (and for SQLite a fresh file), migrated. */
export async function freshTarget(db: Db): Promise<Target> {
  const prefix = `bench_${randomBytes(3).toString('hex')}_`;
  let file: string | undefined;
  if (db === 'sqlite') {
    mkdirSync(sqliteDir, { recursive: true });
    file = join(sqliteDir, `${prefix}${process.pid}.sqlite`);
  }
  const target: Target = { db, prefix, ...(file ? { file } : {}) };
  const knex = knexFor(target, 2);
  try {
    await migrate(knex, { tablePrefix: prefix });
  } finally {
    await knex.destroy();
  }
  return target;
}

/** Drops every table of a benchmark's prefix (or its SQLite file). */
export async function dropTarget(target: Target): Promise<void> {
  if (target.db === 'sqlite') {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${target.file}${suffix}`, { force: true });
    return;
  }
  const knex = knexFor(target, 1);
  try {
    // Every table distcache names (a migration that adds one adds it there: 009's tick was left
    // behind while this list was written by hand), then the benchmark's own.
    const { prefix: _prefix, migrations, ...owned } = tableNames(target.prefix);
    const names = [...Object.values(owned), migrations, `${migrations}_lock`, `${target.prefix}plain`, `${target.prefix}app_data`];
    for (const name of names) await knex.schema.dropTableIfExists(name).catch(() => undefined);
    // Migration 005's SQL functions outlive their tables.
    for (const name of ['write', 'refresh', 'remove', 'refresh_all', 'payload', 'wake']) {
      const routine = `${target.prefix}distcache_${name}`;
      const sql = target.db === 'postgres' ? `drop function if exists "${routine}"` : `drop procedure if exists \`${routine}\``;
      await knex.raw(sql).catch(() => undefined);
    }
  } finally {
    await knex.destroy();
  }
}

/** Whether a database answers; the suite skips a database that does not, and says so. */
export async function reachable(db: Db): Promise<string | undefined> {
  if (db === 'sqlite') return undefined;
  const knex = knexFactory({
    ...(db === 'postgres' ? { client: 'pg', connection: PG_URL } : { client: 'mysql2', connection: MYSQL_URL }),
    pool: { min: 0, max: 1 },
    acquireConnectionTimeout: 5000,
  });
  try {
    await knex.raw('select 1');
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await knex.destroy();
  }
}

/** The rows of a knex.raw result, whatever the driver. */
export function rows(result: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(result)) return (Array.isArray(result[0]) ? result[0] : result) as Array<Record<string, unknown>>;
  return ((result as { rows?: unknown[] })?.rows ?? []) as Array<Record<string, unknown>>;
}

/** One connection of the driver itself, outside knex and its pool: the floor under any query through knex. */
export interface BareConnection {
  select1(): Promise<void>;
  /**
   * Runs one statement as distcache's stores send it (the SQL text and bindings of knex's `query`
   * event), kept prepared as they keep it: the statement's own cost, without knex, the pool or distcache.
   */
  run(sql: string, bindings: readonly unknown[]): Promise<void>;
  close(): Promise<void>;
}

export async function bareConnection(target: Pick<Target, 'db' | 'file'>): Promise<BareConnection> {
  if (target.db === 'postgres') {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    return {
      select1: async () => void (await client.query({ name: 'bench_select_1', text: 'select 1' })),
      run: async (sql, bindings) => void (await client.query({ name: 'bench_statement', text: sql, values: [...bindings] })),
      close: () => client.end(),
    };
  }
  if (target.db === 'mysql') {
    const mysql = await import('mysql2/promise');
    const connection = await mysql.createConnection(MYSQL_URL);
    return {
      select1: async () => void (await connection.execute('select 1')),
      run: async (sql, bindings) => void (await connection.execute(sql, [...bindings] as never[])),
      close: () => connection.end(),
    };
  }
  const { default: Database } = await import('better-sqlite3');
  const database = new Database(target.file!);
  const statement = database.prepare('select 1');
  const kept = new Map<string, { all(...params: unknown[]): unknown[] }>();
  return {
    select1: async () => void statement.get(),
    run: async (sql, bindings) => {
      let prepared = kept.get(sql);
      if (!prepared) kept.set(sql, (prepared = database.prepare(sql).raw(true) as { all(...params: unknown[]): unknown[] }));
      prepared.all(...bindings);
    },
    close: async () => void database.close(),
  };
}
