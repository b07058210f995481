/**
 * What is pending past each of several positions, for the commit-ordered stores (SQLite; MySQL
 * has its own, mysql/sql/pending.ts): one index range per position, in one statement, branch `k`
 * tagged k. A join of the positions with the log scanned the whole table.
 *
 * `scan` is the table as the store scans it in position order, `pos` the quoted position column,
 * `positions` the number of positions. Params: per position, `?` cluster and `?` the position.
 * Returns: per branch `k`, row_count, total (instructions), oldest (utc_stamp).
 */
export function pendingBranchesSql(scan: string, pos: string, positions: number): string {
  return Array.from(
    { length: positions },
    (_, k) =>
      `select ${k} as k, count(*) as row_count, coalesce(sum(instruction_count), 0) as total, min(utc_stamp) as oldest ` +
      `from ${scan} where cluster = ? and ${pos} > ?`,
  ).join(' union all ');
}
