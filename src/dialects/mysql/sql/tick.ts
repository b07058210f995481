/**
 * The replicated tick on MySQL/MariaDB (migration 013): what the primary writes and what a
 * replica's page reads with it. Why a tick is enough here, with no snapshot in it: docs/design.md,
 * "MySQL and MariaDB replicas".
 */

/**
 * Counts one more tick with the primary's clock and server_id. Autocommit, run after a commit of
 * this process (and once per interval by the elected server): a replica that keeps the primary's
 * commit order and shows it has applied that commit. Params: 1 cluster.
 */
export function tickSql(tick: string): string {
  return (
    `insert into ${tick} (cluster, n, stamp, source) values (?, 1, current_timestamp(3), @@server_id) ` +
    'on duplicate key update n = n + 1, stamp = current_timestamp(3), source = @@server_id'
  );
}

/**
 * The tick as a server shows it: its count and its age by that server's clock, in ms. Both
 * timestamps go through the same session time zone, so their difference is the real one
 * (except across a daylight-saving change of that zone, where it is off by the change for an hour).
 * Params: 1 cluster.
 */
export function tickAgeSql(tick: string): string {
  return `select n, (unix_timestamp(current_timestamp(3)) - unix_timestamp(stamp)) * 1000 as age_ms from ${tick} where cluster = ?`;
}
