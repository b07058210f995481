import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { Sequelize } from 'sequelize';
import mysql from 'mysql2/promise';
import { harness } from './conformance/harness.js';
import { countDelivery } from './conformance/concurrency.js';
import { recorder } from './support/recorder.js';
import { waitFor } from './support/wait.js';
import { availability, MYSQL_URL, PG_URL, type DialectName } from './support/databases.js';
import type { DistributedCache } from '../src/index.js';
import { mysql2Executor, pgExecutor, sequelizeExecutor } from '../src/executors/index.js';

class Rollback extends Error {}

/** One transaction of a client library: an app row, then the instruction, a random pause, commit or rollback. */
type Transact = (cache: DistributedCache, appTable: string, id: string, rollback: boolean) => Promise<void>;

interface Client {
  name: string;
  dialect: DialectName;
  open(): { transact: Transact; close(): Promise<void> };
}

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
    name: 'Sequelize executor (afterCommit)',
    dialect: 'postgres',
    open() {
      const sequelize = new Sequelize(PG_URL, { logging: false, pool: { max: 8 } });
      const transact: Transact = (cache, appTable, id, rollback) =>
        sequelize.transaction(async (t) => {
          await sequelize.query(`insert into "${appTable}" (note) values ($1)`, { bind: [id], transaction: t });
          await cache.refresh('product', [id], { trx: sequelizeExecutor(sequelize, t) });
          await delay(Math.random() * 5);
          if (rollback) throw new Rollback();
        });
      return { transact, close: () => sequelize.close() };
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

/**
 * The conformance concurrency test (test/conformance/concurrency.ts) through executors: writers
 * commit out of id order, some roll back; both subscribers and every writer lose nothing and
 * see nothing unexpected or twice.
 */
for (const client of CLIENTS) {
  describe(`concurrency through the ${client.name}`, { skip: await availability(client.dialect) }, () => {
    test('6 writers with random commit delays and 5% rollbacks: 2 subscribers lose nothing, see nothing unexpected', async (t) => {
      const h = await harness(t, client.dialect);
      const appTable = `${h.prefix}app_data`;
      await h.knex.schema.createTable(appTable, (table) => {
        table.increments('id');
        table.string('note', 64);
      });
      const library = client.open();
      t.after(() => library.close());
      const writers = Array.from({ length: 6 }, (_, w) => {
        const local = recorder();
        return { local, cache: h.cache({ serverIdentity: `writer-${w}`, refreshers: [local] }) };
      });
      const subscribers = [0, 1].map((i) => {
        const r = recorder();
        return { r, cache: h.cache({ serverIdentity: `subscriber-${i}`, refreshers: [r], syncInterval: 10, knex: h.connection() }) };
      });
      for (const { cache } of subscribers) await cache.start();

      const committed = new Set<string>();
      const rolledBack = new Set<string>();
      const perWriter = 80;
      await Promise.all(
        writers.map(async ({ cache }, w) => {
          for (let i = 0; i < perWriter; i++) {
            const id = `${w}-${i}`;
            const rollback = Math.random() < 0.05;
            try {
              await library.transact(cache, appTable, id, rollback);
              committed.add(id);
            } catch (err) {
              if (!(err instanceof Rollback)) throw err;
              rolledBack.add(id);
            }
          }
        }),
      );
      assert.ok(rolledBack.size > 0, 'some transactions rolled back');
      for (const { r } of subscribers) {
        await waitFor(() => countDelivery(r.refreshedIds(), committed).lost === 0, {
          timeout: 30_000,
          describe: () => JSON.stringify(countDelivery(r.refreshedIds(), committed)),
        });
      }
      for (const { r, cache } of subscribers) {
        await cache.sync();
        const count = countDelivery(r.refreshedIds(), committed);
        t.diagnostic(
          `${committed.size} committed, ${rolledBack.size} rolled back; lost=${count.lost} unexpected=${count.unexpected} ` +
            `duplicated=${count.duplicated}`,
        );
        assert.deepEqual(count, { lost: 0, unexpected: 0, duplicated: 0 });
      }
      for (const [w, { local, cache }] of writers.entries()) {
        await cache.sync();
        await cache.stop();
        const mine = new Set([...committed].filter((id) => id.startsWith(`${w}-`)));
        assert.deepEqual(countDelivery(local.refreshedIds(), mine), { lost: 0, unexpected: 0, duplicated: 0 });
      }
    });
  });
}
