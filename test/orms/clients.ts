import Database from 'better-sqlite3';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzleMysql } from 'drizzle-orm/mysql2';
import { drizzle as drizzleSqlite } from 'drizzle-orm/better-sqlite3';
import { sql as drizzleSql } from 'drizzle-orm';
import { Kysely, MysqlDialect, PostgresDialect, SqliteDialect } from 'kysely';
import mysql from 'mysql2/promise';
import { createPool as createMysqlCallbackPool } from 'mysql2';
import pg from 'pg';
import postgres from 'postgres';
import { Sequelize } from 'sequelize';
import { DataSource } from 'typeorm';
import { MikroORM as MikroPg } from '@mikro-orm/postgresql';
import { MikroORM as MikroMysql } from '@mikro-orm/mysql';
import { MikroORM as MikroSqlite } from '@mikro-orm/better-sqlite';
// The repository's own build (npm run build), as the root's tests run it.
import {
  drizzleExecutor,
  drizzleSqliteExecutor,
  kyselyExecutor,
  postgresJsExecutor,
  mikroOrmExecutor,
  sequelizeExecutor,
  typeormExecutor,
} from '../../dist/src/executors/index.js';
import { MYSQL_URL, PG_URL, type DialectName } from '../../dist/test/support/databases.js';
import { Rollback, run, type ClientSpec } from '../../dist/test/executors/clients.js';

/**
 * The ORMs and query builders distcache has executors for, each on every database it supports here,
 * as test/executors/clients.ts's specs: the shared tests of test/executors/suite.ts drive them.
 */
const postgresJsSpec: ClientSpec = {
  name: 'postgres.js',
  dialect: 'postgres',
  open() {
    const sql = postgres(PG_URL, { max: 4, onnotice: () => undefined });
    return {
      write: (cache, id, { rollback, wrapped }) =>
        run(cache, wrapped, async () => {
          await sql.begin(async (tx) => {
            await cache.refresh('product', [id], { trx: postgresJsExecutor(tx) });
            if (rollback) throw new Rollback();
          });
        }),
      close: () => sql.end(),
    };
  },
};

function kyselySpec(dialect: DialectName): ClientSpec {
  return {
    name: `kysely`,
    dialect,
    open(file) {
      const db = new Kysely<Record<string, never>>({
        dialect:
          dialect === 'postgres'
            ? new PostgresDialect({ pool: new pg.Pool({ connectionString: PG_URL, max: 4 }) })
            : dialect === 'mysql'
              ? new MysqlDialect({ pool: createMysqlCallbackPool({ uri: MYSQL_URL, connectionLimit: 4 }) })
              : new SqliteDialect({ database: new Database(file!) }),
      });
      return {
        write: (cache, id, { rollback, wrapped }) =>
          run(cache, wrapped, () =>
            db.transaction().execute(async (trx) => {
              await cache.refresh('product', [id], { trx: kyselyExecutor(trx, dialect) });
              if (rollback) throw new Rollback();
            }),
          ),
        close: () => db.destroy(),
      };
    },
  };
}

function drizzleSpec(dialect: DialectName): ClientSpec {
  return {
    name: 'drizzle',
    dialect,
    open(file) {
      if (dialect === 'sqlite') {
        const database = new Database(file!);
        database.pragma('busy_timeout = 10000');
        const db = drizzleSqlite(database);
        return {
          write: (cache, id, { rollback, wrapped }) =>
            run(cache, wrapped, async () => {
              db.transaction((tx) => {
                cache.refreshSync('product', [id], { trx: drizzleSqliteExecutor(tx, drizzleSql) });
                if (rollback) throw new Rollback();
              });
            }),
          close: async () => void database.close(),
        };
      }
      if (dialect === 'postgres') {
        const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
        const db = drizzlePg(pool);
        return {
          write: (cache, id, { rollback, wrapped }) =>
            run(cache, wrapped, () =>
              db.transaction(async (tx) => {
                await cache.refresh('product', [id], { trx: drizzleExecutor(tx, drizzleSql, 'postgres') });
                if (rollback) throw new Rollback();
              }),
            ),
          close: () => pool.end(),
        };
      }
      const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 4 });
      const db = drizzleMysql(pool);
      return {
        write: (cache, id, { rollback, wrapped }) =>
          run(cache, wrapped, () =>
            db.transaction(async (tx) => {
              await cache.refresh('product', [id], { trx: drizzleExecutor(tx, drizzleSql, 'mysql') });
              if (rollback) throw new Rollback();
            }),
          ),
        close: () => pool.end(),
      };
    },
  };
}

function sequelizeSpec(dialect: 'postgres' | 'mysql'): ClientSpec {
  return {
    name: 'sequelize',
    dialect,
    commitHook: true,
    open() {
      const sequelize = new Sequelize(dialect === 'postgres' ? PG_URL : MYSQL_URL, { logging: false, pool: { max: 4 } });
      return {
        write: (cache, id, { rollback, wrapped }) =>
          run(cache, wrapped, () =>
            sequelize.transaction(async (t) => {
              await cache.refresh('product', [id], { trx: sequelizeExecutor(sequelize, t) });
              if (rollback) throw new Rollback();
            }),
          ),
        close: () => sequelize.close(),
      };
    },
  };
}

function typeormSpec(dialect: DialectName): ClientSpec {
  return {
    name: 'typeorm',
    dialect,
    commitHook: true,
    open(file) {
      const source =
        dialect === 'sqlite'
          ? new DataSource({ type: 'better-sqlite3', database: file!, enableWAL: true })
          : new DataSource({
              type: dialect,
              url: dialect === 'postgres' ? PG_URL : MYSQL_URL,
              extra: dialect === 'postgres' ? { max: 4 } : { connectionLimit: 4 },
            });
      const ready = source.initialize();
      return {
        write: (cache, id, { rollback, wrapped }) =>
          run(cache, wrapped, async () => {
            await ready;
            await source.transaction(async (manager) => {
              await cache.refresh('product', [id], { trx: typeormExecutor(manager) });
              if (rollback) throw new Rollback();
            });
          }),
        close: async () => {
          await ready;
          await source.destroy();
        },
      };
    },
  };
}

function mikroOrmSpec(dialect: DialectName): ClientSpec {
  return {
    name: 'mikro-orm',
    dialect,
    commitHook: true,
    open(file) {
      const common = { entities: [], discovery: { warnWhenNoEntities: false }, allowGlobalContext: true, debug: false };
      const ready =
        dialect === 'postgres'
          ? MikroPg.init({ ...common, clientUrl: PG_URL, pool: { min: 0, max: 4 } })
          : dialect === 'mysql'
            ? MikroMysql.init({ ...common, clientUrl: MYSQL_URL, pool: { min: 0, max: 4 } })
            : MikroSqlite.init({ ...common, dbName: file! });
      return {
        write: (cache, id, { rollback, wrapped }) =>
          run(cache, wrapped, async () => {
            const orm = await ready;
            await orm.em.fork().transactional(async (em) => {
              await cache.refresh('product', [id], { trx: mikroOrmExecutor(em, dialect) });
              if (rollback) throw new Rollback();
            });
          }),
        close: async () => (await ready).close(true),
      };
    },
  };
}

/** Every library of this package on every database it supports here. */
export const CLIENTS: readonly ClientSpec[] = [
  postgresJsSpec,
  ...(['postgres', 'mysql', 'sqlite'] as const).map(kyselySpec),
  ...(['postgres', 'mysql', 'sqlite'] as const).map(drizzleSpec),
  ...(['postgres', 'mysql'] as const).map(sequelizeSpec),
  ...(['postgres', 'mysql', 'sqlite'] as const).map(typeormSpec),
  ...(['postgres', 'mysql', 'sqlite'] as const).map(mikroOrmSpec),
];
