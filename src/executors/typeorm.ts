import type { Executor, ExecutorDialect, ExecutorRow } from '../store/executor.js';
import { driverText, rowsOf } from '../store/executor.js';

/** The parts of a TypeORM EntityManager, its QueryRunner and DataSource this uses. */
interface QueryRunner {
  readonly isTransactionActive: boolean;
}
interface Subscriber {
  afterTransactionCommit?(event: { queryRunner: QueryRunner }): void;
  afterTransactionRollback?(event: { queryRunner: QueryRunner }): void;
}
interface DataSource {
  readonly options: { readonly type: string };
  readonly subscribers: Subscriber[];
}
interface EntityManager {
  readonly connection: DataSource;
  readonly queryRunner?: QueryRunner | undefined;
  query(text: string, values: unknown[]): Promise<unknown>;
}

/** Runs waiting on each open transaction's QueryRunner, released by one subscriber per DataSource. */
const waiting = new WeakMap<QueryRunner, Array<() => void>>();
const subscribed = new WeakSet<DataSource>();
const subscriber: Subscriber = {
  // A released savepoint also broadcasts a commit; only the outermost commit (no transaction left) counts.
  afterTransactionCommit({ queryRunner }) {
    if (queryRunner.isTransactionActive) return;
    const runs = waiting.get(queryRunner) ?? [];
    waiting.delete(queryRunner);
    for (const run of runs) run();
  },
  // Any rollback drops the local applies: rows that did commit still reach this server from the log.
  afterTransactionRollback: ({ queryRunner }) => void waiting.delete(queryRunner),
};

/**
 * The EntityManager TypeORM hands a transaction (`dataSource.transaction(async (manager) => ...)`), on
 * PostgreSQL, MySQL/MariaDB or better-sqlite3. Commits come from a TypeORM subscriber this adds to
 * the DataSource once: no `cache.transaction()` is needed.
 */
export function typeormExecutor(manager: EntityManager): Executor {
  const type = manager.connection.options.type;
  const dialect: ExecutorDialect = type === 'postgres' ? 'postgres' : type === 'mysql' || type === 'mariadb' ? 'mysql' : 'sqlite';
  const runner = manager.queryRunner;
  if (!runner?.isTransactionActive) {
    throw new TypeError('typeormExecutor: pass the EntityManager of a transaction (dataSource.transaction(async (manager) => ...))');
  }
  if (!subscribed.has(manager.connection)) {
    manager.connection.subscribers.push(subscriber);
    subscribed.add(manager.connection);
  }
  const query = async (text: string, values: unknown[]) => rowsOf(await manager.query(driverText[dialect](text), values)) as ExecutorRow[];
  const afterCommit = (run: () => void) => void (waiting.get(runner) ?? waiting.set(runner, []).get(runner)!).push(run);
  return { dialect, query, afterCommit };
}
