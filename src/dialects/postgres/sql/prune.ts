/** The SQL of a prune: which rows are doomed, and the one statement that marks and deletes a chunk of them. */
import type { Knex } from 'knex';

/**
 * The rows a prune may delete: old, never the cluster's newest (so the log never looks empty),
 * committed (visible in the current snapshot), and covered by every `coveredBy` position.
 * Bindings: instruction table, cluster, cutoff, instruction table, cluster, the positions as JSON.
 */
export const DOOMED_SQL = `
      select i.id, i.txid from ?? i
      where i.cluster = ?
        and i.utc_stamp < ?
        and i.id < (select max(m.id) from ?? m where m.cluster = ?)
        and pg_visible_in_snapshot(i.txid, pg_current_snapshot())
        and not exists (
          select 1 from jsonb_array_elements_text(?::jsonb) p(snap) where not pg_visible_in_snapshot(i.txid, p.snap::pg_snapshot)
        )`;

export function doomedBindings(instruction: string, cluster: string, cutoff: Knex.Raw, coveredBy: readonly string[]): Knex.RawBinding[] {
  return [instruction, cluster, cutoff, instruction, cluster, JSON.stringify(coveredBy)];
}

/**
 * A chunk: the doomed rows' first `limit` by age, the cursors they were not covered by marked, and
 * the rows deleted. The delete looks doomed rows up with `= any(array(...))`: with `in (select
 * ...)` the planner may hash-join against a scan of the whole index instead.
 *
 * By age, not by id: the utc_stamp index then yields the rows in order and its range ends at the
 * cutoff. Ordered by id, a plan could walk the primary key filtering on age, and the last chunk of
 * every pass (the one that comes back short) walked from there to the end of the log: 6,950
 * buffers on 300,000 rows as a generic plan, where this reads 5 (issue 21, the plan gate).
 * Which doomed rows a chunk takes first does not matter: any subset of them may go.
 * Bindings: DOOMED_SQL's, limit, cursor table, cluster, instruction table.
 */
export const PRUNE_CHUNK_SQL = `with doomed as (
             ${DOOMED_SQL}
             order by i.utc_stamp
             limit ?
           ), marked as (
             update ?? c set cold_boot_requested = true
             where c.cluster = ? and not c.cold_boot_requested
               and exists (select 1 from doomed d where not pg_visible_in_snapshot(d.txid, c.position::pg_snapshot))
             returning c.server_identity
           ), deleted as (
             delete from ?? i where i.id = any (array(select d.id from doomed d)) returning i.id
           )
           select (select count(*) from deleted) as deleted,
             array(select m.server_identity::text from marked m order by 1) as marked`;

/** The rows a prune would delete now, without deleting any; for `prune --dry-run`. Bindings: DOOMED_SQL's. */
export const PRUNE_PREVIEW_SQL = `select count(*) as n, min(d.id) as lo, max(d.id) as hi from (${DOOMED_SQL}) d`;
