import { REFRESHER_ID_PATTERN } from '../identifiers.js';
import type { ClusterSql } from './sql.js';

/**
 * Each server publishes the ids of its refreshers in the `refreshers` column of its `cache_server`
 * row (migration 003), as a JSON array of strings. `distcache send` checks against the union, so a
 * typo in a refresher id is refused instead of being written and skipped by every server.
 */

/** The column value for a list of refresher ids: sorted, unique, JSON. */
export function encodeRefresherIds(ids: readonly string[]): string {
  return JSON.stringify([...new Set(ids)].sort());
}

/**
 * The columns to merge into a server row's heartbeat update, so the published list is rewritten
 * with every registration (and survives a row that was forgotten and re-registered).
 *
 * Used by ServerTable.touch() (cluster/server-table.ts):
 *
 *     const fields = { last_heartbeat: now, ..., ...refresherColumns(me.refreshers) };
 */
export function refresherColumns(ids: readonly string[] | undefined): { refreshers?: string } {
  return ids === undefined ? {} : { refreshers: encodeRefresherIds(ids) };
}

/**
 * A published column's JSON array; null when the server published nothing (or something
 * unreadable). The refresher and region columns are both read through it.
 */
export function parsePublishedArray(value: unknown): unknown[] | null {
  if (value == null) return null;
  try {
    const parsed: unknown = JSON.parse(String(value));
    return Array.isArray(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

/** Reads a column value; null when the server published nothing (or something unreadable). */
export function decodeRefresherIds(value: unknown): string[] | null {
  const parsed = parsePublishedArray(value);
  if (!parsed) return null;
  return parsed.filter((id): id is string => typeof id === 'string' && REFRESHER_ID_PATTERN.test(id));
}

/**
 * Writes one server's refresher ids into its registration row (only this instance's row, like
 * every other server-row write). For callers that register outside `ServerTable.touch()`; the
 * heartbeat path should use `refresherColumns()` instead, which costs no extra statement.
 */
export async function publishRefreshers(sql: ClusterSql, identity: string, instanceId: string, ids: readonly string[]): Promise<boolean> {
  const updated = await sql.store.bounded(
    sql
      .knex(sql.tables.server)
      .where({ cluster: sql.cluster, server_identity: identity, instance_id: instanceId })
      .update({ refreshers: encodeRefresherIds(ids) }),
  );
  return updated > 0;
}

/**
 * The published refresher ids of every registered server of the cluster; null for a server that
 * published none. Null as a whole when the column does not exist yet (migration 003 not applied),
 * so read-only commands keep working against a schema one step behind.
 */
export async function readPublishedRefreshers(sql: ClusterSql): Promise<Map<string, string[] | null> | null> {
  if (!(await sql.knex.schema.hasColumn(sql.tables.server, 'refreshers'))) return null;
  const raws = await sql.store.bounded(
    sql.knex(sql.tables.server).where('cluster', sql.cluster).select('server_identity', 'refreshers').orderBy('server_identity'),
  );
  return new Map(raws.map((r: Record<string, unknown>) => [String(r.server_identity), decodeRefresherIds(r.refreshers)]));
}
