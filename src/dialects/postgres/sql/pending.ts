/** The SQL of pending(), its batch form and listPending(): what a position does not cover yet. */
import { uncoveredSql } from './uncovered.js';

/**
 * What is pending past one snapshot: its rows, their instructions, the oldest's stamp.
 * Bindings: the position (a pg_snapshot's text), then uncoveredBindings.
 */
export const PENDING_SQL = `with w as materialized (select ?::pg_snapshot as since)
  select count(*) as row_count, coalesce(sum(u.instruction_count), 0) as total, min(u.utc_stamp) as oldest
  from w, lateral (${uncoveredSql('w.since')}) u`;

/**
 * PENDING_SQL for every position in one plan: the positions as one array, the log's uncovered
 * rows found per position by the same lateral; one row per position `k`, numbered from 0.
 * Bindings: the positions as a text array, then uncoveredBindings.
 */
export const PENDING_BATCH_SQL = `with w as materialized (
         select t.k - 1 as k, t.p::pg_snapshot as since from unnest(?::text[]) with ordinality as t(p, k)
       )
       select w.k, count(u.id) as row_count, coalesce(sum(u.instruction_count), 0) as total, min(u.utc_stamp) as oldest
       from w left join lateral (${uncoveredSql('w.since')}) u on true
       group by w.k`;

/**
 * The first `limit` rows pending past one snapshot, in the order a poll would apply them.
 * `body` is the row's body columns (bodyColumns). Bindings: the position, uncoveredBindings, limit.
 */
export function listPendingSql(body: string): string {
  return `with w as materialized (select ?::pg_snapshot as since)
           select u.id, u.utc_stamp, u.originated, u.origin_instance, u.instruction_count,
             ${body}
           from w, lateral (${uncoveredSql('w.since')}) u
           order by u.txid, u.id
           limit ?`;
}
