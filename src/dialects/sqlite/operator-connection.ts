import type { Knex } from 'knex';
import type { OperatorConnection } from '../types.js';

type AfterCreate = (conn: { pragma(s: string): unknown }, done: (err: Error | null, conn: unknown) => void) => void;

/** better-sqlite3: a local file opens at once; a read-only connection opens the file read-only. */
export const sqliteOperatorConnection: OperatorConnection = {
  connectTimeout: (config) => config,
  readOnly(config: Knex.Config, timeoutMs: number): Knex.Config {
    const base = config.connection as { filename: string; options?: object };
    const connection = { ...base, options: { ...(base.options ?? {}), readonly: true } };
    // Changing the journal mode is a write; a read-only connection only waits for the writer's lock.
    const afterCreate: AfterCreate = (conn, done) => {
      conn.pragma(`busy_timeout = ${Math.min(timeoutMs, 60_000)}`);
      done(null, conn);
    };
    return { ...config, connection, pool: { ...(config.pool ?? {}), afterCreate } };
  },
};
