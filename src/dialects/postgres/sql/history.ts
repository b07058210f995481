/** The SQL that tells which database history a position belongs to (see sync/position-check.ts). */

/**
 * The timeline the server writes WAL on now. Promotion switches it at once, while
 * `pg_control_checkpoint()`'s timeline_id waits for the next checkpoint (and the issue's failover
 * test would miss it); the WAL file name of the insert position starts with it, in hex. A standby
 * has no insert position: there the last checkpoint's timeline is the best it has.
 */
export const TIMELINE_SQL = `case when pg_is_in_recovery() then (select timeline_id from pg_control_checkpoint())::text
  else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int::text end`;

/** The system identifier and the timeline; see InstructionStore.databaseIdentity. */
export const DATABASE_IDENTITY_SQL = `select (select system_identifier::text from pg_control_system()) || ':' || ${TIMELINE_SQL}
  as identity`;

/**
 * Rows of the cluster written in another history: their txid is at or above the current
 * snapshot's xmax (see PostgresStore.foreignRows). With `settle` they are re-stamped with
 * FrozenTransactionId (3) and counted. Bindings: instruction table, cluster.
 */
export function foreignRowsSql(settle: boolean): string {
  const where = 'cluster = ? and txid >= pg_snapshot_xmax(pg_current_snapshot())';
  return settle
    ? `with s as (update ?? set txid = '3'::xid8 where ${where} returning 1) select count(*) as n from s`
    : `select count(*) as n from ?? where ${where}`;
}
