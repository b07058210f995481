import type { CacheRefresher } from '../../refreshers/refresher.js';
import { keyedRefresher, type KeyedRefresherOptions } from './keyed.js';

/** The part of a cache-manager (v6 or later) `Cache` the refresher uses. */
export interface CacheManagerLike {
  mdel(keys: string[]): Promise<unknown>;
  clear(): Promise<unknown>;
  set(key: string, value: never, ttl?: number): Promise<unknown>;
}

export interface CacheManagerRefresherOptions<V, P> extends KeyedRefresherOptions<string, V, P> {
  cache: CacheManagerLike;
  /** Time to live of entries written from payloads, in ms. @default the cache's own */
  ttl?: number;
}

/**
 * A refresher over a cache-manager cache, every tier at once: refresh and remove delete the keys
 * (`mdel`), refreshAll calls `clear()`. Keys are `String(id)` unless `key` says otherwise.
 *
 * @example
 * const products = createCache({ stores: [new Keyv()] });
 * const refresher = cacheManagerRefresher({ id: 'product', cache: products, key: (id) => `product:${id}` });
 */
export function cacheManagerRefresher<V = unknown, P = never>(options: CacheManagerRefresherOptions<V, P>): CacheRefresher<P> {
  const { cache, ttl } = options;
  return keyedRefresher(
    options,
    {
      delete: (keys) => cache.mdel(keys),
      clear: () => cache.clear(),
      set: (k, v) => cache.set(k, v as never, ttl),
    },
    String,
  );
}
