/**
 * MySQL/MariaDB's pieces of the commit-ordered page statement (store/sql/commit-ordered-page.ts,
 * which says its parameters and result): how the log is scanned, how the page and its marker row
 * are joined, and the log's head. Every argument is an identifier already quoted; none binds a value.
 */

/**
 * The instruction table scanned through its (cluster, seq) index, named. MariaDB plans
 * `cluster = ? and seq > ? order by seq limit ?` as a ref lookup on `cluster` alone, filtering seq
 * entry by entry from the start of the cluster: each page of a catch-up then costs more than the
 * one before (1 ms at row 1,000, 4 ms at row 45,000 here). Naming the index makes it a range scan
 * that starts at the cursor: the same 0.7 ms per page anywhere in the log.
 */
export function positionScanSql(instruction: string, clusterSeqIndex: string): string {
  return `${instruction} force index (${clusterSeqIndex})`;
}

/** Parenthesized parts: half the cost of a derived table per idle poll here (0.24 ms against 0.5 ms). */
export function unionAllSql(first: string, second: string): string {
  return `(${first}) union all (${second})`;
}

/**
 * The log's head: the sequence row, which every seq handed out and committed is at most, and
 * which a restore brings back with the rows. A primary-key read: max(seq) as a subquery of the
 * union made an idle poll 0.11 ms against 0.07 (BENCHMARKS.md, "Idle poll after issue 15").
 */
export function sequenceHeadSql(sequence: string): string {
  return `(select value from ${sequence} where id = 1)`;
}
