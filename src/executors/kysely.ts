import { driverText, type Executor, type ExecutorDialect, type ExecutorRow } from '../store/executor.js';

/** The part of a Kysely `Transaction` this uses; its argument is a compiled query, built below. */
interface KyselyTransaction {
  readonly isTransaction: boolean;
  executeQuery(query: never): Promise<{ rows: unknown[] }>;
}

/**
 * A Kysely transaction (`db.transaction().execute(async (trx) => ...)`) on `dialect`. Kysely
 * reports no commits: wrap the transaction in `cache.transaction()` to apply at commit time.
 */
export function kyselyExecutor(trx: KyselyTransaction, dialect: ExecutorDialect): Executor {
  // Outside a transaction each query may take another pooled connection; MySQL's last_insert_id() would then be wrong.
  if (trx.isTransaction !== true) {
    throw new TypeError(
      'kyselyExecutor: pass the transaction Kysely hands you (db.transaction().execute(async (trx) => ...)), not the Kysely instance',
    );
  }
  const query = async (text: string, values: unknown[]) => {
    const sql = driverText[dialect](text);
    // What CompiledQuery.raw() builds, without importing Kysely.
    const node = { kind: 'RawNode', sqlFragments: [sql], parameters: [] };
    const compiled = { sql, parameters: values, query: node, queryId: { queryId: 'distcache' } };
    return (await trx.executeQuery(compiled as never)).rows as ExecutorRow[];
  };
  return { dialect, query };
}
