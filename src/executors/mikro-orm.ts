import type { Knex } from 'knex';
import { whenCommitted } from '../write/transaction.js';
import { rowsOf, type Executor, type ExecutorDialect, type ExecutorRow } from '../store/executor.js';

/** The parts of a MikroORM 6 SQL EntityManager this uses. */
interface EntityManager {
  getTransactionContext(): unknown;
  getConnection(): { execute(text: string, values: unknown[], method: 'all' | 'run', ctx: unknown): Promise<unknown> };
}

/**
 * The EntityManager MikroORM 6 hands a transaction (`em.transactional(async (em) => ...)`), on
 * PostgreSQL, MySQL/MariaDB or better-sqlite3. MikroORM 6 runs its SQL drivers' transactions on
 * knex, and the commit is read from that knex transaction, every savepoint level included: no
 * `cache.transaction()` is needed. (Passing `{ trx: em.getTransactionContext() }` works too.)
 */
export function mikroOrmExecutor(em: EntityManager, dialect: ExecutorDialect): Executor {
  const ctx = em.getTransactionContext();
  if (typeof ctx !== 'function') {
    throw new TypeError('mikroOrmExecutor: pass the EntityManager of a transaction (em.transactional(async (em) => ...))');
  }
  const query = async (text: string, values: unknown[]) => {
    const rows = /^\s*select\b|\breturning\b/i.test(text);
    const result = await em.getConnection().execute(text, values, rows ? 'all' : 'run', ctx);
    return rows ? (rowsOf(result) as ExecutorRow[]) : [];
  };
  const afterCommit = (run: () => void) => void whenCommitted(ctx as Knex.Transaction).then((committed) => committed && run());
  return { dialect, query, afterCommit };
}
