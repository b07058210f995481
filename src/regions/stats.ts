/** What one region did since it was created; `region.stats()` returns a copy. */
export interface RegionStats {
  /** The region's id. */
  region: string;
  /** Reads answered from the cache (a cached miss included). */
  hits: number;
  /** Reads that found no fresh entry, and so joined or started a load. */
  misses: number;
  /** Loader calls started. */
  loads: number;
  /** Loader calls that threw or rejected. */
  loadErrors: number;
  /** Loads an invalidation overtook: they answered their callers and stored nothing. */
  loadsDiscarded: number;
  /** Reads answered with an expired entry because the loader failed (grace). */
  servedFromGrace: number;
  /** Entries (cached misses included) in the cache now. */
  size: number;
  /** Entries pushed out by max or maxSize. */
  evictions: number;
}

export type RegionCounter = Exclude<keyof RegionStats, 'region' | 'size'>;

export function emptyCounters(): Record<RegionCounter, number> {
  return { hits: 0, misses: 0, loads: 0, loadErrors: 0, loadsDiscarded: 0, servedFromGrace: 0, evictions: 0 };
}
