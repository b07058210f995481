import type { NewInstructionRow } from './store.js';
import type { Executor, SyncExecutor } from './executor.js';
import { idOf, syncRows } from './executor-rows.js';
import { insertValueList } from './columns.js';

/**
 * How a row goes in through an executor: one INSERT per row with `?` placeholders, then (where
 * the INSERT cannot return it) a statement that reads the id on the same connection. One row
 * per statement: every dialect then returns ids in order, and a write is nearly always one row.
 */
export interface ExecutorInsertSql {
  insert: string;
  readId?: string;
}

export async function insertThrough(
  executor: Executor,
  sql: ExecutorInsertSql,
  cluster: string,
  rows: readonly NewInstructionRow[],
): Promise<number[]> {
  const ids: number[] = [];
  for (const row of rows) {
    const inserted = await executor.query(sql.insert, insertValueList(row, cluster));
    ids.push(idOf(sql.readId === undefined ? inserted : await executor.query(sql.readId, [])));
  }
  return ids;
}

/** `insertThrough` for a synchronous executor (better-sqlite3): a promise back is refused (syncRows). */
export function insertThroughSync(
  executor: SyncExecutor,
  sql: ExecutorInsertSql,
  cluster: string,
  rows: readonly NewInstructionRow[],
): number[] {
  const ids: number[] = [];
  for (const row of rows) {
    const inserted = syncRows(executor.query(sql.insert, insertValueList(row, cluster)));
    ids.push(idOf(sql.readId === undefined ? inserted : syncRows(executor.query(sql.readId, []))));
  }
  return ids;
}
