import { Sequelize } from 'sequelize';
import { setTimeout as delay } from 'node:timers/promises';
import { sequelizeExecutor } from '../../dist/src/executors/index.js';
import { PG_URL } from '../../dist/test/support/databases.js';
import { concurrencyTests, type Client, type Transact } from '../../dist/test/executors/concurrency.js';
import { Rollback } from '../../dist/test/executors/clients.js';

/** test/executors/concurrency.ts through the Sequelize executor, whose afterCommit hook applies the write here. */
const CLIENTS: Client[] = [
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
];

await concurrencyTests(CLIENTS);
