import type { Dialect } from '../dialect.js';

// Placeholder until the postgres store lands.
export const postgresDialect: Dialect = {
  name: 'postgres',
  clients: [],
  createStore: () => {
    throw new Error('postgres store not implemented yet');
  },
  nowDefault: (knex) => knex.fn.now() as never,
  timestamp: (table, name) => table.timestamp(name),
  async createCursorSupport() {},
  async dropCursorSupport() {},
  transactionalDdl: true,
};
