import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { MYSQL_URL, PG_URL } from './support/databases.js';
import { mysql2Executor, pgExecutor } from '../src/executors/index.js';
import { concurrencyTests, type Client, type Transact } from './executors/concurrency.js';
import { Rollback } from './executors/clients.js';

const CLIENTS: Client[] = [
  {
    name: 'pg executor inside cache.transaction()',
    dialect: 'postgres',
    open() {
      const pool = new pg.Pool({ connectionString: PG_URL, max: 8 });
      const transact: Transact = (cache, appTable, id, rollback) =>
        cache.transaction(async () => {
          const client = await pool.connect();
          try {
            await client.query('begin');
            await client.query(`insert into "${appTable}" (note) values ($1)`, [id]);
            await cache.refresh('product', [id], { trx: pgExecutor(client) });
            await delay(Math.random() * 5);
            if (rollback) throw new Rollback();
            await client.query('commit');
          } catch (err) {
            await client.query('rollback');
            throw err;
          } finally {
            client.release();
          }
        });
      return { transact, close: () => pool.end() };
    },
  },
  {
    name: 'mysql2 executor inside cache.transaction()',
    dialect: 'mysql',
    open() {
      const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 8 });
      const transact: Transact = (cache, appTable, id, rollback) =>
        cache.transaction(async () => {
          const connection = await pool.getConnection();
          try {
            await connection.beginTransaction();
            await connection.query(`insert into \`${appTable}\` (note) values (?)`, [id]);
            await cache.refresh('product', [id], { trx: mysql2Executor(connection) });
            await delay(Math.random() * 5);
            if (rollback) throw new Rollback();
            await connection.commit();
          } catch (err) {
            await connection.rollback();
            throw err;
          } finally {
            connection.release();
          }
        });
      return { transact, close: () => pool.end() };
    },
  },
];

/** The drivers' executors; the Sequelize executor runs the same test from test/orms. */
await concurrencyTests(CLIENTS);
