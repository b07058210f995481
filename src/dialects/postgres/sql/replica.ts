/**
 * The SQL of reading from streaming replicas (PgQ's slave-consumer method): the tick the primary
 * writes, and the page statement a replica runs. Why this is exact: docs/design.md, "Reading from
 * replicas". Kept apart from page.ts, the primary's page, which it mirrors.
 */
import { pageColumns, windowRowsSql } from './page.js';
import { TIMELINE_SQL } from './history.js';

/**
 * Whether snapshot `a` was taken no earlier than snapshot `b`, both taken on the primary (so `a`
 * counts every transaction `b` counts as committed). xmax (the latest completed xid + 1) never
 * goes back, so a larger xmax is a later snapshot. At equal xmax no new xid can have entered the
 * in-progress list (new xids are at or above xmax), so the later snapshot's list is a subset of
 * the earlier one's, and the shorter list (or an equal one) is the later snapshot.
 */
export function coversSql(a: string, b: string): string {
  return `(pg_snapshot_xmax(${a}) > pg_snapshot_xmax(${b}) or (pg_snapshot_xmax(${a}) = pg_snapshot_xmax(${b})
    and (select count(*) from pg_snapshot_xip(${a})) <= (select count(*) from pg_snapshot_xip(${b}))))`;
}

/**
 * The tick: the primary's snapshot now, with the primary's clock and identity, into the cluster's
 * tick row. One statement, run after a commit (see ReplicatedStore.tick): the snapshot is taken
 * after the commit returned, so it counts that transaction as committed.
 *
 * The row only moves forward (coversSql): under READ COMMITTED an upsert that waited on a
 * concurrent tick keeps its own, older statement snapshot, and writing it would move the tick
 * back; a newer tick covers everything the skipped one did. An equal snapshot still renews the
 * stamp, so an idle database's tick stays young. The commit need not wait for a WAL flush (a
 * tick lost in a crash is replaced by the next; a standby only ever receives flushed WAL, in
 * order). Params: $1 cluster.
 */
export function tickSql(tick: string): string {
  return `
      insert into ${tick} as t (cluster, snapshot, stamp, source)
      select $1, pg_current_snapshot(), now(),
        (select system_identifier::text from pg_control_system()) || ':' || ${TIMELINE_SQL}
      from (select set_config('synchronous_commit', 'off', true)) s
      on conflict (cluster) do update set snapshot = excluded.snapshot, stamp = excluded.stamp, source = excluded.source
      where ${coversSql('excluded.snapshot', 't.snapshot')}`;
}

/**
 * The page statement a replica runs (see pageSql for the window, the halves and the token).
 *
 * The target is never the replica's own snapshot: in recovery `pg_current_snapshot()` leaves
 * running transactions out of its in-progress list and would count them as committed. The
 * target is the tick this replica has replayed ($2 from a token, else the tick), used only when it
 * is no older than `from` (a replica that lags behind the position, or one restarted behind what
 * it showed before, reads nothing rather than going back). `served` says whether this replica
 * has replayed the target at all: false when a window begun elsewhere (the primary, another
 * replica, this one before a restart) continues here, and then no row is read.
 *
 * `cursor_seen`: whether this replica has replayed the server's last cursor reset ($7, a WAL
 * position on the primary; null: none in this process). Until it has, the cursor flags read here
 * are older than what this server wrote itself.
 *
 * Params: $1 from, $2 target or null, $3 after txid, $4 after id, $5 cluster, $6 identity, $7 reset LSN or null.
 */
export function replicaPageSql(instruction: string, cursor: string, tick: string, limit: number, maxRowBytes: number): string {
  const n = Math.trunc(limit);
  // Oversize bodies stay unsent, as on the primary; the page's byte budget is applied as the rows arrive (withinBudget).
  const PAGE_COLUMNS = pageColumns(maxRowBytes);
  return `
      with k as materialized (
        select t.snapshot as tick, t.stamp, t.source from (select 1) one left join ${tick} t on t.cluster = $5
      ), w as materialized (
        select b.*, greatest(b.after_txid, pg_snapshot_xmax(b.since)) as lo_txid,
          case when b.after_txid >= pg_snapshot_xmax(b.since) then b.after_id else -1 end as lo_id
        from (select k.*, $1::pg_snapshot as since,
            case when $2::pg_snapshot is not null then $2::pg_snapshot
              when k.tick is not null and ${coversSql('k.tick', '$1::pg_snapshot')} then k.tick
              else $1::pg_snapshot end as target,
            ($2::pg_snapshot is null or (k.tick is not null and ${coversSql('k.tick', '$2::pg_snapshot')})) as served,
            $3::xid8 as after_txid, $4::bigint as after_id
          from k) b
      )
      select w.target::text as target, w.served, w.source,
        extract(epoch from (now() - w.stamp)) * 1000 as tick_age_ms,
        (select c.cold_boot_requested from ${cursor} c where c.cluster = $5 and c.server_identity = $6) as cbr,
        coalesce(pg_last_wal_replay_lsn() >= $7::pg_lsn, $7::pg_lsn is null or not pg_is_in_recovery()) as cursor_seen,
        pg_postmaster_start_time()::text || '/' || coalesce(w.source, 'no tick') as epoch,
        p.*
      from w
      left join lateral (
        select u.* from (
          ${windowRowsSql(instruction, PAGE_COLUMNS, n)}
        ) u
        order by u.txid, u.id
        limit ${n}
      ) p on w.served
      order by p.txid, p.id`;
}
