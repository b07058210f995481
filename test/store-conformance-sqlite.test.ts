import knexFactory from 'knex';
import { sqliteDialect } from '../src/dialects/sqlite/dialect.js';
import { storeSuite } from './store/suite.js';
import { availability, removeSqliteFile, sqliteConfig, sqliteFile } from './support/databases.js';

storeSuite({
  name: 'sqlite',
  skip: await availability('sqlite'),
  createStore: (config) => sqliteDialect.createStore(config),
  open() {
    const file = sqliteFile();
    const knex = knexFactory(sqliteConfig(file));
    // WAL: a second connection reads while the first holds the write lock.
    const reader = knexFactory(sqliteConfig(file));
    return {
      knex,
      reader,
      async close() {
        await reader.destroy();
        await knex.destroy();
        removeSqliteFile(file);
      },
    };
  },
  // One writer at a time: a second write waits for the connection (and the file's write lock).
  secondWriterWaits: true,
  stamp: (agoMs) => new Date(Date.now() - agoMs).toISOString(),
});
