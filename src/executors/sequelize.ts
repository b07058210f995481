import { numbered, type Executor, type ExecutorDialect, type ExecutorRow } from '../store/executor.js';

/** The parts of a Sequelize instance and of one of its transactions this uses. */
interface Sequelize {
  getDialect(): string;
  /** Called with `{ bind, transaction, type }`; typed loosely, as Sequelize overloads it per query type. */
  query(text: string, options: never): Promise<unknown>;
}
interface Transaction {
  afterCommit(run: () => unknown): void;
}

/**
 * A Sequelize transaction (`sequelize.transaction(async (t) => ...)`), on PostgreSQL or MySQL/MariaDB.
 * Commits come from Sequelize's own `afterCommit` hook: no `cache.transaction()` is needed.
 */
export function sequelizeExecutor(sequelize: Sequelize, transaction: Transaction): Executor {
  const name = sequelize.getDialect();
  const dialect: ExecutorDialect = name === 'postgres' ? 'postgres' : name === 'mysql' || name === 'mariadb' ? 'mysql' : 'sqlite';
  const query = async (text: string, values: unknown[]) => {
    // Bind parameters ($1...; Sequelize rewrites them for MySQL), never values spliced into the text.
    const type = /^\s*select\b|\breturning\b/i.test(text) ? 'SELECT' : 'RAW';
    const result = await sequelize.query(numbered(text), { bind: values, transaction, type } as never);
    return type === 'SELECT' ? (result as ExecutorRow[]) : [];
  };
  return { dialect, query, afterCommit: (run) => transaction.afterCommit(run) };
}
