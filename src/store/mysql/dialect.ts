import type { Dialect } from '../dialect.js';

// Placeholder until the mysql store lands.
export const mysqlDialect: Dialect = {
  name: 'mysql',
  clients: [],
  createStore: () => {
    throw new Error('mysql store not implemented yet');
  },
  nowDefault: (knex) => knex.fn.now() as never,
  timestamp: (table, name) => table.timestamp(name),
  async createCursorSupport() {},
  async dropCursorSupport() {},
  transactionalDdl: true,
};
