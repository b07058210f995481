import type { CacheRefresher } from '../../refreshers/refresher.js';
import type { CacheId } from '../../instructions/types.js';
import { keyedRefresher, type KeyedRefresherOptions } from './keyed.js';

/** A `Map`, an `LRUCache` (lru-cache), or anything with the same delete/clear/set. */
export interface MapLike<K, V> {
  delete(key: K): unknown;
  clear(): void;
  set(key: K, value: V): unknown;
}

export interface MapRefresherOptions<K, V, P> extends KeyedRefresherOptions<K, V, P> {
  map: MapLike<K, V>;
}

/**
 * A refresher over an in-process `Map`: refresh and remove delete the keys, refreshAll clears it.
 *
 * @example
 * const products = new Map<number, Product>();
 * const cache = new DistributedCache({ knex, refreshers: [mapRefresher({ id: 'product', map: products })] });
 */
export function mapRefresher<K = CacheId, V = unknown, P = never>(options: MapRefresherOptions<K, V, P>): CacheRefresher<P> {
  const { map } = options;
  return keyedRefresher(
    options,
    {
      delete: (keys) => {
        for (const k of keys) map.delete(k);
      },
      clear: () => map.clear(),
      set: (k, v) => map.set(k, v),
    },
    (id) => id as K,
  );
}

export interface LruRefresherOptions<K, V, P> extends KeyedRefresherOptions<K, V, P> {
  /** An `LRUCache` from lru-cache (v7 or later). */
  cache: MapLike<K, V>;
}

/**
 * A refresher over an lru-cache `LRUCache`: refresh and remove delete the keys (running its
 * `dispose`), refreshAll clears it. lru-cache is not imported: any version with delete/clear/set works.
 *
 * @example
 * const products = new LRUCache<number, Product>({ max: 10_000, ttl: 60_000 });
 * const refresher = lruRefresher({ id: 'product', cache: products });
 */
export function lruRefresher<K = CacheId, V = unknown, P = never>(options: LruRefresherOptions<K, V, P>): CacheRefresher<P> {
  return mapRefresher({ ...options, map: options.cache });
}
