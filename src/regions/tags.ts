import type { RegionKey } from './keys.js';

/**
 * Which stored entries carry which tags, both ways. Only tagged entries cost anything here: an
 * entry leaves the index whenever it leaves the cache (evicted, expired, replaced, deleted),
 * through lru-cache's dispose callback.
 */
export class TagIndex {
  private readonly keysByTag = new Map<string, Set<RegionKey>>();
  private readonly tagsByKey = new Map<RegionKey, readonly string[]>();

  add(key: RegionKey, tags: readonly string[]): void {
    this.drop(key);
    if (tags.length === 0) return;
    this.tagsByKey.set(key, tags);
    for (const tag of tags) {
      let keys = this.keysByTag.get(tag);
      if (!keys) this.keysByTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }

  drop(key: RegionKey): void {
    if (this.tagsByKey.size === 0) return;
    const tags = this.tagsByKey.get(key);
    if (!tags) return;
    this.tagsByKey.delete(key);
    for (const tag of tags) {
      const keys = this.keysByTag.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) this.keysByTag.delete(tag);
    }
  }

  /** The keys stored under any of these tags. */
  keysOf(tags: Iterable<string>): RegionKey[] {
    const found = new Set<RegionKey>();
    for (const tag of tags) for (const key of this.keysByTag.get(tag) ?? []) found.add(key);
    return [...found];
  }

  clear(): void {
    this.keysByTag.clear();
    this.tagsByKey.clear();
  }
}
