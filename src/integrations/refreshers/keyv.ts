import type { CacheRefresher } from '../../refreshers/refresher.js';
import { keyedRefresher, type KeyedRefresherOptions } from './keyed.js';

/** The part of a `Keyv` instance (keyv v4 or v5) the refresher uses. */
export interface KeyvLike {
  delete(key: string | string[]): Promise<unknown>;
  clear(): Promise<unknown>;
  set(key: string, value: never, ttl?: number): Promise<unknown>;
}

export interface KeyvRefresherOptions<V, P> extends KeyedRefresherOptions<string, V, P> {
  keyv: KeyvLike;
  /** Time to live of entries written from payloads, in ms. @default the Keyv instance's own */
  ttl?: number;
}

/**
 * A refresher over a Keyv instance (any Keyv store: memory, Redis, SQLite...): refresh and remove
 * delete the keys, refreshAll calls `keyv.clear()`. Keys are `String(id)` unless `key` says otherwise.
 * What `clear()` removes is the store's choice: adapters such as @keyv/redis clear the namespace,
 * while a plain `Map` store passed to several Keyv instances is cleared whole, so give each cache
 * its own store.
 *
 * @example
 * const products = new Keyv({ namespace: 'product' });
 * const refresher = keyvRefresher({ id: 'product', keyv: products, key: (id) => `product:${id}` });
 */
export function keyvRefresher<V = unknown, P = never>(options: KeyvRefresherOptions<V, P>): CacheRefresher<P> {
  const { keyv, ttl } = options;
  return keyedRefresher(
    options,
    {
      delete: (keys) => (keys.length === 1 ? keyv.delete(keys[0]!) : keyv.delete(keys)),
      clear: () => keyv.clear(),
      set: (k, v) => keyv.set(k, v as never, ttl),
    },
    String,
  );
}
