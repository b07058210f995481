import { LeaseTable, type LeaseRow } from '../cluster/lease-table.js';
import type { ClusterSql } from '../cluster/sql.js';
import { toDate } from '../store/base-store.js';

/** The one lease of a cluster (docs/cluster.md, "Schema"). */
const PUBLISHER_LEASE = 'scheduling-publisher';

/** Who holds the scheduling-publisher lease. Times are ISO-8601 by the database clock. */
export interface PublisherView {
  identity: string;
  instanceId: string;
  acquiredAt: string | null;
  renewedAt: string | null;
  /** When the lease runs out unless renewed: renewedAt + the holder's lease duration. */
  expiresAt: string | null;
}

/**
 * Reads the lease without creating it. `LeaseTable.read()` inserts the row when it is missing
 * (the first server of a cluster creates it), which a read-only command must never do; whether
 * the lease has expired is still decided by the cluster code's own rule (`LeaseTable.looksExpired`).
 */
export async function readPublisher(sql: ClusterSql): Promise<PublisherView | null> {
  const raw = await sql.store.bounded(
    sql
      .knex(sql.tables.lease)
      .where({ cluster: sql.cluster, name: PUBLISHER_LEASE })
      .select('holder_identity', 'holder_instance', 'token', 'duration_ms', 'acquired_at', 'renewed_at', sql.knex.raw('? as read_at', [sql.store.clockSql(0)]))
      .first(),
  );
  if (!raw) return null;
  const row: LeaseRow = {
    holderIdentity: raw.holder_identity == null ? null : String(raw.holder_identity),
    holderInstance: raw.holder_instance == null ? null : String(raw.holder_instance),
    token: Number(raw.token ?? 0),
    durationMs: Number(raw.duration_ms ?? 0),
    renewedAt: toDate(raw.renewed_at),
    readAt: toDate(raw.read_at) ?? new Date(Number.NaN),
  };
  if (LeaseTable.looksExpired(row) || row.holderIdentity === null || row.holderInstance === null) return null;
  return {
    identity: row.holderIdentity,
    instanceId: row.holderInstance,
    acquiredAt: toDate(raw.acquired_at)?.toISOString() ?? null,
    renewedAt: row.renewedAt?.toISOString() ?? null,
    expiresAt: row.renewedAt ? new Date(row.renewedAt.getTime() + row.durationMs).toISOString() : null,
  };
}
