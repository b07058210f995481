import { REFRESHER_ID_PATTERN } from '../identifiers.js';
import type { RegionStats } from '../regions/stats.js';
import { parsePublishedArray } from './published-refreshers.js';
import type { ClusterSql } from './sql.js';

/**
 * Each server with cache regions publishes them, with their figures, in the `regions` column of
 * its `cache_server` row (migration 006), as a JSON array of `RegionStats`, rewritten with every
 * heartbeat. A server without regions writes nothing there, so it runs on a schema without 006.
 */

const FIGURES = ['hits', 'misses', 'loads', 'loadErrors', 'loadsDiscarded', 'servedFromGrace', 'size', 'evictions'] as const;

/** What a server publishes of each region: its id and the counters above (not the local-only figures, such as load durations). */
export type PublishedRegion = Pick<RegionStats, 'region' | (typeof FIGURES)[number]>;

function published(stats: RegionStats): PublishedRegion {
  const out = { region: stats.region } as PublishedRegion;
  for (const f of FIGURES) out[f] = stats[f];
  return out;
}

/** The columns to merge into a heartbeat update; none when the server has no region. */
export function regionColumns(regions: readonly RegionStats[] | undefined): { regions?: string } {
  return regions === undefined || regions.length === 0 ? {} : { regions: JSON.stringify(regions.map(published)) };
}

/** Reads a column value; null when the server published nothing (or something unreadable). */
export function decodeRegions(value: unknown): PublishedRegion[] | null {
  const parsed = parsePublishedArray(value);
  if (!parsed) return null;
  const regions: PublishedRegion[] = [];
  for (const r of parsed as Array<Record<string, unknown>>) {
    if (!r || typeof r.region !== 'string' || !REFRESHER_ID_PATTERN.test(r.region)) continue;
    const stats = { region: r.region } as PublishedRegion;
    for (const f of FIGURES) stats[f] = Number.isFinite(r[f]) ? Number(r[f]) : 0;
    regions.push(stats);
  }
  return regions;
}

/** The published regions of every registered server; null as a whole when migration 006 is not applied. */
export async function readPublishedRegions(sql: ClusterSql): Promise<Map<string, PublishedRegion[] | null> | null> {
  if (!(await sql.knex.schema.hasColumn(sql.tables.server, 'regions'))) return null;
  const raws = await sql.store.bounded(sql.knex(sql.tables.server).where('cluster', sql.cluster).select('server_identity', 'regions'));
  return new Map(raws.map((r: Record<string, unknown>) => [String(r.server_identity), decodeRegions(r.regions)]));
}
