import knexFactory, { type Knex } from 'knex';
import { mysqlDialect } from '../src/dialects/mysql/dialect.js';
import { rawRows } from '../src/store/commit-ordered-store.js';
import { storeSuite } from './store/suite.js';
import { availability, DATABASES } from './support/databases.js';

storeSuite({
  name: 'mysql',
  skip: await availability('mysql'),
  createStore: (config) => mysqlDialect.createStore(config),
  open() {
    const knex = knexFactory(DATABASES.mysql.config());
    return { knex, reader: knex, close: () => knex.destroy() };
  },
  // The commit-order lock: a second writer's trigger waits until the first commits.
  secondWriterWaits: true,
  stamp: (agoMs) => new Date(Date.now() - agoMs),
  async waitingOn(knex: Knex, table: string) {
    const sql = 'select count(*) as n from information_schema.processlist where info like ? and id <> connection_id()';
    const [row] = rawRows(await knex.raw(sql, [`%${table}%`]));
    return Number(row?.n ?? 0);
  },
});
