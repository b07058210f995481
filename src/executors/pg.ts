import { numbered, type Executor, type ExecutorRow } from '../store/executor.js';

/** The part of a node-postgres `Client` or `PoolClient` this uses. */
interface PgClient {
  query(text: string, values: unknown[]): Promise<{ rows: ExecutorRow[] }>;
}

/**
 * A node-postgres client inside BEGIN ... COMMIT (a `PoolClient` from `pool.connect()`, never the
 * pool itself: every statement of the transaction must run on one connection). node-postgres
 * reports no commits: wrap the transaction in `cache.transaction()` to apply at commit time.
 */
export function pgExecutor(client: PgClient): Executor {
  return { dialect: 'postgres', query: async (text, values) => (await client.query(numbered(text), values)).rows };
}
