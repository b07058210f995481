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
  /** Background loads started by `refreshAhead`. */
  refreshesAhead: number;
  /** Loads whose soft `timeout` answered their callers with the graced entry. */
  softTimeouts: number;
  /** Loads given up at `hardTimeout`. */
  hardTimeouts: number;
  /** hits / (hits + misses), 0 before the first read. */
  hitRatio: number;
  /** How long loader calls took (ms), as cumulative histogram buckets. */
  loadDurations: LoadDurations;
  /**
   * Regions with `perRequest` only: reads inside a request answered from the request's memo (not
   * counted as hits), per key.
   */
  requestHits?: number;
  /**
   * Regions with `perRequest` only: reads inside a request that read through the region (each key
   * once per request, unless invalidated).
   */
  requestMisses?: number;
}

/** The request cache's figures, which only regions with `perRequest` have. */
export type RequestCacheFigure = 'requestHits' | 'requestMisses';

/** A Prometheus-style histogram: `counts[i]` calls took at most `bounds[i]` ms (the last bound is Infinity). */
export interface LoadDurations {
  bounds: number[];
  counts: number[];
  sum: number;
  count: number;
}

/** The counters a region keeps itself; hits and misses are counted by its entries (entries.ts), on the hit path. */
export type RegionCounter = Exclude<
  keyof RegionStats,
  'region' | 'hits' | 'misses' | 'size' | 'hitRatio' | 'loadDurations' | RequestCacheFigure
>;

export function emptyCounters(): Record<RegionCounter, number> {
  return {
    loads: 0,
    loadErrors: 0,
    loadsDiscarded: 0,
    servedFromGrace: 0,
    evictions: 0,
    refreshesAhead: 0,
    softTimeouts: 0,
    hardTimeouts: 0,
  };
}

/** Bucket bounds in ms, from a fast in-memory loader to a slow remote one. */
export const LOAD_DURATION_BOUNDS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, Infinity];

export class LoadDurationHistogram {
  private readonly counts = LOAD_DURATION_BOUNDS.map(() => 0);
  private sum = 0;
  private count = 0;

  observe(ms: number): void {
    this.sum += ms;
    this.count += 1;
    for (let i = 0; i < LOAD_DURATION_BOUNDS.length; i++) if (ms <= LOAD_DURATION_BOUNDS[i]!) this.counts[i]! += 1;
  }

  snapshot(): LoadDurations {
    return { bounds: [...LOAD_DURATION_BOUNDS], counts: [...this.counts], sum: this.sum, count: this.count };
  }
}
