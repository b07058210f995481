/**
 * What is pending past each of several positions, from one range scan from the oldest position
 * on: each row falls in a bucket `b`, the number of positions below its seq (`interval()`, a
 * binary search over the sorted positions). MysqlStore.pendingBatch sums a position's count from
 * the buckets at and above its own.
 *
 * `scan` is the table as positionScanSql reads it; `positions` the number of positions.
 * Params: `?` each sorted position plus 1 (interval() counts the bounds at or below seq, so seq > p
 * exactly when it counts p + 1), `?` cluster, `?` the lowest position.
 * Returns: per non-empty bucket `b`, row_count, total (instructions), oldest (utc_stamp).
 */
export function pendingBucketsSql(scan: string, positions: number): string {
  const bounds = Array.from({ length: positions }, () => '?').join(', ');
  return (
    `select interval(seq, ${bounds}) as b, count(*) as row_count, coalesce(sum(instruction_count), 0) as total, ` +
    `min(utc_stamp) as oldest from ${scan} where cluster = ? and seq > ? group by b`
  );
}
