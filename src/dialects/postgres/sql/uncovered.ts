/** The SQL of pending() and listPending(): the rows a position does not cover. */

/**
 * Rows of the cluster that snapshot `since` (an SQL expression) does not cover: those at or past
 * its xmax (a range scan, which `range` narrows), and those of the transactions it saw in progress.
 */
export function uncoveredSql(since: string, range = ''): string {
  // The in-progress xids are looked up one by one (a lateral subquery the planner cannot flatten,
  // thanks to `offset 0`): with `txid = any(...)` it may scan the whole cluster's index instead,
  // not knowing the array is usually empty.
  return `select i.* from ?? i where i.cluster = ? and i.txid >= pg_snapshot_xmax(${since})${range}
    union all
    select i.* from (select pg_snapshot_xip(${since}) as txid) x
      cross join lateral (select * from ?? i where i.cluster = ? and i.txid = x.txid offset 0) i`;
}

/** Bindings of uncoveredSql's two halves: the instruction table and cluster, twice. */
export function uncoveredBindings(instruction: string, cluster: string): [string, string, string, string] {
  return [instruction, cluster, instruction, cluster];
}
