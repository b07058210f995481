/**
 * The SQL of PostgreSQL's hot read, readPage, kept apart from the store as graphile-worker keeps
 * its hot queries: what a reviewer of the cursor's exactness needs is on this page. See the
 * cursor's explanation on PostgresStore.
 */
import { toBool } from '../../../store/columns.js';
import { DEFAULT_PAGE_BYTES, type PageBytes } from '../../../store/row-bytes.js';

/**
 * What a page reads of each row: every column the poller uses, and txid for the next page's token.
 * The body only up to `maxRowBytes`: octet_length reads a TOASTed value's size from its header, so a
 * row of any size costs the page one integer, never its text (see rowsWithin).
 */
export function pageColumns(maxRowBytes: number): string {
  const bytes = 'octet_length(i.json_instruction)';
  return (
    `i.id, i.utc_stamp, case when ${bytes} <= ${Math.trunc(maxRowBytes)} then i.json_instruction end as json_instruction, ` +
    `${bytes} as json_bytes, i.originated, i.origin_instance, i.instruction_count, i.txid`
  );
}

/**
 * The page statement of readPage for one page size (the store prepares it once per size, see prepared.ts).
 *
 * A window is the rows `from` ($1) does not cover but its target snapshot does. The first page
 * takes the target from `pg_current_snapshot()` in the same statement: that is the statement's
 * own snapshot, so the target covers exactly the committed rows the statement can see. Later
 * pages pass the target back ($2, from the token) and continue after the last (txid, id) ($3,
 * $4); every row the target covers is committed, so later statements still see it (unless
 * pruned, which marks the cursor). Only the last page returns the target as a position, so a
 * cursor never passes a row that a later page of the same window would still deliver.
 *
 * The limit is written into the text rather than bound: a prepared statement may be planned
 * generically, and a bound LIMIT would then be planned for a guessed row count.
 *
 * `instruction` and `cursor` are the quoted table names.
 */
export function pageSql(instruction: string, cursor: string, limit: number, bytes: PageBytes = DEFAULT_PAGE_BYTES): string {
  const n = Math.trunc(limit);
  return `
      with w as materialized (
        -- lo_txid/lo_id: the range half's one lower bound, as a single row comparison, so its index
        -- scan starts exactly there (with a second, separate bound on txid, btree may start from
        -- the weaker one and walk the whole table).
        select b.*, greatest(b.after_txid, pg_snapshot_xmax(b.since)) as lo_txid,
          case when b.after_txid >= pg_snapshot_xmax(b.since) then b.after_id else -1 end as lo_id,
          -- The timeline as the WAL file name's hex prefix: it changes exactly when TIMELINE_SQL does, without the casts.
          pg_postmaster_start_time()::text || '/' ||
            coalesce(substr(pg_walfile_name(case when pg_is_in_recovery() then null else pg_current_wal_lsn() end), 1, 8), 'standby')
            as epoch
        from (select $1::pg_snapshot as since, coalesce($2::pg_snapshot, pg_current_snapshot()) as target,
          pg_current_snapshot() as now, $3::xid8 as after_txid, $4::bigint as after_id,
          -- The cluster's largest txid, for the history check: computed here, once per statement,
          -- and as ORDER BY ... LIMIT 1 on (cluster, txid, id), which the planner always makes a
          -- one-entry backward index probe. As \`exists (... where f.txid >= ...)\` in the select
          -- list it was a subplan run once per returned row, and with statistics (any table
          -- autovacuum has analyzed) planned as a sequential scan of the whole log (issue 21).
          (select f.txid from ${instruction} f where f.cluster = $5 order by f.txid desc limit 1) as top_txid) b
      )
      select w.target::text as target,
        (select c.cold_boot_requested from ${cursor} c where c.cluster = $5 and c.server_identity = $6) as cbr,
        -- The history checks (see historyOf), from w: nothing here reads the log again.
        pg_snapshot_xmax(w.since) > pg_snapshot_xmax(w.now) as ahead,
        coalesce(w.top_txid >= pg_snapshot_xmax(w.now), false) as foreign_rows,
        w.epoch,
        p.*
      from w
      ${pageRowsSql(instruction, n, bytes)}
      order by p.txid, p.id`;
}

/**
 * The page's rows, joined to `w` (one row of the window's bounds) so that a window with no rows
 * still answers with one row: each half ordered and limited on its own, so a page reads at most
 * 2 × limit index entries however long the window, and bodies cut by the page's byte budget.
 */
function pageRowsSql(instruction: string, n: number, bytes: PageBytes): string {
  const PAGE_COLUMNS = pageColumns(bytes.maxRowBytes);
  // The body bytes of the page up to each row (oversize rows bring none): a body that would take the
  // page past maxPageBytes stays unsent, the first always comes, and withinBudget (store/row-bytes.ts) ends the page there.
  const fetched = `case when u.json_instruction is null then 0 else u.json_bytes end`;
  const through = `sum(${fetched}) over (order by u.txid, u.id)`;
  return `left join lateral (
        select u.id, u.utc_stamp, u.json_bytes, u.originated, u.origin_instance, u.instruction_count, u.txid,
          case when ${through} <= ${Math.trunc(bytes.maxPageBytes)} or ${through} = ${fetched} then u.json_instruction end
            as json_instruction
        from (
          ${windowRowsSql(instruction, PAGE_COLUMNS, n)}
        ) u
        order by u.txid, u.id
        limit ${n}
      ) p on true`;
}

/**
 * The statement of a window's later pages (readPage with a token): the target, resume point and
 * window come from the token ($2, $3, $4; $1 from, $5 cluster), and nothing else. The first
 * page's checks (the cursor's cold-boot flag, the history checks, the epoch) are the poller's
 * concern once per poll, and repeating them on every row of every page of a catch-up cost as much
 * as the rows themselves. `standby` stays: a page read on a standby could miss rows the target
 * counts as committed.
 */
export function laterPageSql(instruction: string, limit: number, bytes: PageBytes = DEFAULT_PAGE_BYTES): string {
  const n = Math.trunc(limit);
  return `
      with w as materialized (
        select b.*, greatest(b.after_txid, pg_snapshot_xmax(b.since)) as lo_txid,
          case when b.after_txid >= pg_snapshot_xmax(b.since) then b.after_id else -1 end as lo_id,
          pg_is_in_recovery() as standby
        from (select $1::pg_snapshot as since, $2::pg_snapshot as target, $3::xid8 as after_txid, $4::bigint as after_id) b
      )
      select w.standby, p.*
      from w
      ${pageRowsSql(instruction, n, bytes)}
      order by p.txid, p.id`;
}

/**
 * The rows of a page's window, as two halves each ordered and limited on its own: the rows past
 * the resume point and below the target's xmax, then the old snapshot's in-progress xids, one
 * index lookup each (see uncoveredSql). Reads `w` (since, target, lo_txid/lo_id, after_txid/after_id)
 * and `$5` (the cluster). Shared by the primary's page and the replica's (replica.ts).
 */
export function windowRowsSql(instruction: string, columns: string, n: number): string {
  return `(select ${columns} from ${instruction} i
            where i.cluster = $5 and (i.txid, i.id) > (w.lo_txid, w.lo_id) and i.txid < pg_snapshot_xmax(w.target)
              and pg_visible_in_snapshot(i.txid, w.target)
            order by i.txid, i.id limit ${n})
          union all
          -- In-progress xids of the old snapshot, one index lookup each (see uncoveredSql).
          (select i.* from (select pg_snapshot_xip(w.since) as txid) x
            cross join lateral (
              select ${columns} from ${instruction} i
              where i.cluster = $5 and i.txid = x.txid
                and (i.txid, i.id) > (w.after_txid, w.after_id) and pg_visible_in_snapshot(i.txid, w.target)
              order by i.id limit ${n}) i
            order by i.txid, i.id limit ${n})`;
}

/** Why position `from` cannot belong to this database's history, from the page statement's checks; null when it can. */
export function historyOf(from: string, head: Record<string, unknown>): string | null {
  if (toBool(head.ahead)) {
    return (
      `the position ${from} is ahead of the database's transaction counter: ` +
      'the database was replaced or restored (a dump, a failover, a PITR)'
    );
  }
  if (toBool(head.foreign_rows)) return 'the log holds rows written in another transaction history (a dump restored from a busier cluster)';
  return null;
}
