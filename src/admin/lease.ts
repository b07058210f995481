import { LeaseTable } from '../cluster/lease-table.js';
import type { ClusterSql } from '../cluster/sql.js';

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
 * The scheduling publisher, through the cluster code's own read (`LeaseTable.peek()`, which never
 * creates the row: a read-only command must not) and its own expiry rule (`looksExpired`).
 */
export async function readPublisher(sql: ClusterSql): Promise<PublisherView | null> {
  const row = await new LeaseTable(sql).peek();
  if (!row || LeaseTable.looksExpired(row) || row.holderIdentity === null || row.holderInstance === null) return null;
  return {
    identity: row.holderIdentity,
    instanceId: row.holderInstance,
    acquiredAt: row.acquiredAt?.toISOString() ?? null,
    renewedAt: row.renewedAt?.toISOString() ?? null,
    expiresAt: row.renewedAt ? new Date(row.renewedAt.getTime() + row.durationMs).toISOString() : null,
  };
}
