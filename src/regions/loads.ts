import type { RegionKey } from './keys.js';

/**
 * One load in flight. Its identity, not a time, decides whether it may store its value: it may
 * only while it is still the key's current load (lru-cache's `fetch()` checks `vl === p`; Umbraco
 * keeps a placeholder in the slot). Every invalidation of the key takes it out of the table, so
 * a load that an invalidation overtook finds itself replaced or gone and stores nothing.
 */
export interface Load<T> {
  readonly key: RegionKey;
  /** What its callers await: the loader's answer, within the region's timeouts. */
  promise: Promise<T | undefined>;
  /** Declared up front (getOrLoad's tags), so refreshTags can reach the load before it stores anything. */
  readonly tags: readonly string[] | undefined;
  /** A read's load, one key of a bulk load, or a refresh-ahead in the background: all obey load identity. */
  readonly kind: 'read' | 'bulk' | 'background';
  /** The table's tag epoch when it began: tags a loader adds late (ctx.tags) are checked against it. */
  readonly tagEpoch: number;
  /** Its soft timeout answered the callers with the graced entry; the load goes on. */
  softTimedOut: boolean;
  /** Its hard timeout gave it up: it answers nobody and stores nothing. */
  abandoned: boolean;
}

/** The loads in flight of one region, by key: single-flight and load identity in one table. */
export class LoadTable<T> {
  private readonly byKey = new Map<RegionKey, Load<T>>();
  private tagged = 0;
  /** Counts tag invalidations, so a load can tell whether one was applied while it ran. */
  tagEpoch = 0;

  get(key: RegionKey): Load<T> | undefined {
    return this.byKey.get(key);
  }

  add(load: Load<T>): void {
    this.byKey.set(load.key, load);
    if (load.tags?.length) this.tagged += 1;
  }

  /** Whether this load is still the key's current one, i.e. no invalidation overtook it. */
  isCurrent(load: Load<T>): boolean {
    return this.byKey.get(load.key) === load;
  }

  /** A load that finished takes itself out, if it is still there. */
  settle(load: Load<T>): void {
    if (this.byKey.get(load.key) === load) this.forget(load.key);
  }

  /** An invalidation of the key: the load in flight, if any, is overtaken. */
  forget(key: RegionKey): boolean {
    const load = this.byKey.get(key);
    if (!load) return false;
    this.byKey.delete(key);
    if (load.tags?.length) this.tagged -= 1;
    return true;
  }

  /** An invalidation of tags: every load in flight that declared one of them is overtaken. */
  forgetTagged(tags: ReadonlySet<string>): number {
    this.tagEpoch += 1;
    if (this.tagged === 0) return 0;
    let count = 0;
    for (const load of [...this.byKey.values()]) {
      if (load.tags?.some((t) => tags.has(t))) count += Number(this.forget(load.key));
    }
    return count;
  }

  /** refreshAll or a cold boot: every load in flight is overtaken. */
  clear(): number {
    const count = this.byKey.size;
    this.byKey.clear();
    this.tagged = 0;
    return count;
  }

  get size(): number {
    return this.byKey.size;
  }
}
