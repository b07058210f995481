import knexFactory, { type Knex } from 'knex';
import { postgresDialect } from '../src/dialects/postgres/dialect.js';
import { rawRows } from '../src/store/commit-ordered-store.js';
import { storeSuite } from './store/suite.js';
import { availability, DATABASES } from './support/databases.js';

storeSuite({
  name: 'postgres',
  skip: await availability('postgres'),
  createStore: (config) => postgresDialect.createStore(config),
  open() {
    const knex = knexFactory(DATABASES.postgres.config());
    return { knex, reader: knex, close: () => knex.destroy() };
  },
  // Snapshots: a later writer commits first, and a position still covers the earlier one when it commits.
  secondWriterWaits: false,
  stamp: (agoMs) => new Date(Date.now() - agoMs),
  async waitingOn(knex: Knex, table: string) {
    const sql = `select count(*)::int as n from pg_stat_activity
      where query like ? and wait_event_type = 'Lock' and pid <> pg_backend_pid()`;
    const [row] = rawRows(await knex.raw(sql, [`%${table}%`]));
    return Number(row?.n ?? 0);
  },
});
