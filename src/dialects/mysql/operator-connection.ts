import type { Knex } from 'knex';
import type { OperatorConnection } from '../types.js';
import { readOnlyPool, type ReadOnlySyntax } from '../read-only-transactions.js';

const READ_ONLY: ReadOnlySyntax = {
  begin: 'start transaction read only',
  // MySQL has no `begin read only`; its START TRANSACTION takes comma-separated characteristics.
  readOnlyBegin: (bare, plain) => (plain ? 'start transaction read only' : `${bare}, read only`),
  streamsWithoutCallback: true,
};

/** mysql2: `connectTimeout` bounds the connect; each statement runs in a `start transaction read only`. */
export const mysqlOperatorConnection: OperatorConnection = {
  connectTimeout(config: Knex.Config, timeoutMs: number): Knex.Config {
    const connection = config.connection;
    if (typeof connection === 'string') {
      const url = new URL(connection);
      if (!url.searchParams.has('connectTimeout')) url.searchParams.set('connectTimeout', String(timeoutMs));
      return { ...config, connection: url.toString() };
    }
    if (connection && typeof connection === 'object') return { ...config, connection: { connectTimeout: timeoutMs, ...connection } };
    return config;
  },
  readOnly: (config) => readOnlyPool(config, READ_ONLY),
};
