import type { Knex } from 'knex';
import type { OperatorConnection } from '../types.js';
import { readOnlyPool, type ReadOnlySyntax } from '../read-only-transactions.js';

const READ_ONLY: ReadOnlySyntax = {
  begin: 'begin read only',
  readOnlyBegin: (bare) => `${bare} read only`,
  streamsWithoutCallback: false,
};

/** pg: `connectionTimeoutMillis` bounds the connect; each statement runs in a `begin read only` transaction. */
export const postgresOperatorConnection: OperatorConnection = {
  connectTimeout(config: Knex.Config, timeoutMs: number): Knex.Config {
    const connection = config.connection;
    if (typeof connection === 'string')
      return { ...config, connection: { connectionString: connection, connectionTimeoutMillis: timeoutMs } };
    if (connection && typeof connection === 'object')
      return { ...config, connection: { connectionTimeoutMillis: timeoutMs, ...connection } };
    return config;
  },
  readOnly: (config) => readOnlyPool(config, READ_ONLY),
};
