import { regionKey, type RegionKey } from './keys.js';
import type { LoadOptions, RegionBulkLoader, RegionLoader, RegionOptions } from './options.js';
import { Region, type RegionHost } from './region.js';
import type { RequestMemo, RequestScopes } from './request-scope.js';
import type { RegionStats, RequestCacheFigure } from './stats.js';

/**
 * A region with `perRequest`: inside a request scope, each key is read through the region once
 * and then answered from the request's memo (Umbraco's RequestCache, the third application cache
 * beside the runtime cache and the isolated ones). Outside a request it is a plain region. A read
 * keeps its value in the memo only if no invalidation of the region was applied here since it
 * began (RequestMemo.generation), and every invalidation applied during the request drops the
 * memo's keys (RequestScopes.invalidated), so the no-stale rule holds inside a request too.
 */
export class RequestCachedRegion<T> extends Region<T> {
  private requestHits = 0;
  /** Reads inside a request that the memo could not answer, so read through the region. */
  private requestMisses = 0;

  constructor(
    id: string,
    options: RegionOptions<T>,
    host: RegionHost,
    private readonly scopes: RequestScopes,
  ) {
    super(id, options, host);
  }

  override get(key: RegionKey): Promise<T | undefined> {
    return this.memoized(key, (k) => super.get(k));
  }

  override getOrLoad(key: RegionKey, loader: RegionLoader<T>, options?: LoadOptions): Promise<T | undefined> {
    return this.memoized(key, (k) => super.getOrLoad(k, loader, options));
  }

  override getMany(keys: RegionKey[]): Promise<(T | undefined)[]> {
    return this.memoizedMany(keys, (missing) => super.getMany(missing));
  }

  override getOrLoadMany(keys: RegionKey[], loadMany: RegionBulkLoader<T>, options?: LoadOptions): Promise<(T | undefined)[]> {
    return this.memoizedMany(keys, (missing) => super.getOrLoadMany(missing, loadMany, options));
  }

  /**
   * The region's figures, with `requestHits` (reads answered from a request's memo, not counted as
   * region hits) and `requestMisses` (reads inside a request that read through the region).
   */
  override stats(): RegionStats & Required<Pick<RegionStats, RequestCacheFigure>> {
    return { ...super.stats(), requestHits: this.requestHits, requestMisses: this.requestMisses };
  }

  private memo(): RequestMemo | undefined {
    return this.scopes.current()?.memo(this.id, this.options.perRequest);
  }

  private memoized(key: RegionKey, read: (k: RegionKey) => Promise<T | undefined>): Promise<T | undefined> {
    const memo = this.memo();
    if (!memo) return read(key);
    let k: RegionKey;
    try {
      k = regionKey(key);
    } catch (err) {
      return Promise.reject(err);
    }
    if (memo.entries.has(k)) {
      this.requestHits += 1;
      return Promise.resolve(memo.entries.get(k) as T | undefined);
    }
    this.requestMisses += 1;
    const generation = memo.generation;
    return read(k).then((value) => {
      memo.keep(k, value, generation);
      return value;
    });
  }

  private async memoizedMany(keys: RegionKey[], read: (missing: RegionKey[]) => Promise<(T | undefined)[]>): Promise<(T | undefined)[]> {
    const memo = this.memo();
    if (!memo || !Array.isArray(keys)) return read(keys);
    const normal = keys.map(regionKey);
    // What the memo answers is taken now: an invalidation while the rest loads must not turn a hit into undefined.
    const found = new Map<RegionKey, T | undefined>();
    const missing = new Set<RegionKey>();
    for (const k of normal) {
      if (found.has(k) || missing.has(k)) continue;
      if (memo.entries.has(k)) found.set(k, memo.entries.get(k) as T | undefined);
      else missing.add(k);
    }
    this.requestHits += found.size;
    this.requestMisses += missing.size;
    const generation = memo.generation;
    if (missing.size > 0) {
      const list = [...missing];
      const values = await read(list);
      list.forEach((k, i) => {
        found.set(k, values[i]);
        memo.keep(k, values[i], generation);
      });
    }
    return normal.map((k) => found.get(k));
  }
}
