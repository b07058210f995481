import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { DistributedCache } from '../../src/index.js';
import { betterSqliteExecutor, mysql2Executor, pgExecutor } from '../../src/executors/index.js';
import { MYSQL_URL, PG_URL, type DialectName } from '../support/databases.js';

/** Thrown inside a transaction to roll it back. */
export class Rollback extends Error {}

/**
 * One client library on one database, as a test drives it: `write` runs one transaction of that
 * library that writes `id` through distcache, committing or rolling back; `wrapped` runs it inside
 * `cache.transaction()` (for libraries with no commit hook of their own).
 */
export interface OpenClient {
  write(cache: DistributedCache, id: string, options: { rollback: boolean; wrapped: boolean }): Promise<void>;
  close(): Promise<void>;
}

export interface ClientSpec {
  name: string;
  dialect: DialectName;
  /** The library reports commits itself: writes apply at commit without cache.transaction(). */
  commitHook?: boolean;
  open(sqliteFile: string | undefined): OpenClient;
}

/** `work` inside cache.transaction() when asked; rejects with Rollback when `rollback`. */
export function run(cache: DistributedCache, wrapped: boolean, work: () => Promise<void>): Promise<void> {
  return wrapped ? cache.transaction(work) : work();
}

const pgSpec: ClientSpec = {
  name: 'pg',
  dialect: 'postgres',
  open() {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
    return {
      write: (cache, id, { rollback, wrapped }) =>
        run(cache, wrapped, async () => {
          const client = await pool.connect();
          try {
            await client.query('begin');
            await cache.refresh('product', [id], { trx: pgExecutor(client) });
            if (rollback) throw new Rollback();
            await client.query('commit');
          } catch (err) {
            await client.query('rollback');
            throw err;
          } finally {
            client.release();
          }
        }),
      close: () => pool.end(),
    };
  },
};

const mysql2Spec: ClientSpec = {
  name: 'mysql2',
  dialect: 'mysql',
  open() {
    const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 4 });
    return {
      write: (cache, id, { rollback, wrapped }) =>
        run(cache, wrapped, async () => {
          const connection = await pool.getConnection();
          try {
            await connection.beginTransaction();
            await cache.refresh('product', [id], { trx: mysql2Executor(connection) });
            if (rollback) throw new Rollback();
            await connection.commit();
          } catch (err) {
            await connection.rollback();
            throw err;
          } finally {
            connection.release();
          }
        }),
      close: () => pool.end(),
    };
  },
};

const betterSqliteSpec: ClientSpec = {
  name: 'better-sqlite3',
  dialect: 'sqlite',
  open(file) {
    const db = new Database(file!);
    db.pragma('busy_timeout = 10000');
    const executor = betterSqliteExecutor(db);
    return {
      write: (cache, id, { rollback, wrapped }) =>
        run(cache, wrapped, async () => {
          db.transaction(() => {
            cache.refreshSync('product', [id], { trx: executor });
            if (rollback) throw new Rollback();
          })();
        }),
      close: async () => void db.close(),
    };
  },
};

/**
 * The drivers distcache's own tests need anyway (pg, mysql2, better-sqlite3), on their databases.
 * The ORMs and query builders (Drizzle, Kysely, postgres.js, Sequelize, TypeORM, MikroORM) run the
 * same tests from test/orms, a package of their own that the default install leaves out.
 */
export const CLIENTS: readonly ClientSpec[] = [pgSpec, mysql2Spec, betterSqliteSpec];
