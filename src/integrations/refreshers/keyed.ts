import type { CacheRefresher } from '../../refreshers/refresher.js';
import type { CacheId } from '../../instructions/types.js';

type MaybePromise<T> = T | Promise<T>;

/** Options every store helper shares. */
export interface KeyedRefresherOptions<K, V, P> {
  /** The refresher id, the same on every server. */
  id: string;
  /** A human name for logs and the CLI. */
  name?: string;
  /** Maps an instruction's id to the cache key. @default the id itself (String(id) for string-keyed stores) */
  key?: (id: CacheId) => K;
  /**
   * Turns a payload into the entry to store, so `refreshPayload()` writes the new value instead of
   * dropping the key. Without it the refresher takes no payloads.
   */
  entry?: (payload: P) => readonly [key: K, value: V];
}

/** What a store must do for a keyed refresher; each helper adapts one library to this. */
export interface KeyedStore<K, V> {
  delete(keys: K[]): MaybePromise<unknown>;
  clear(): MaybePromise<unknown>;
  set(key: K, value: V): MaybePromise<unknown>;
}

/**
 * The shape all store helpers share: refresh and remove drop the keys (the next read loads fresh
 * data), refreshAll clears the store, and with `entry` a payload writes its value.
 */
export function keyedRefresher<K, V, P>(
  options: KeyedRefresherOptions<K, V, P>,
  store: KeyedStore<K, V>,
  defaultKey: (id: CacheId) => K,
): CacheRefresher<P> {
  const key = options.key ?? defaultKey;
  const drop = async (ids: CacheId[]) => {
    await store.delete(ids.map(key));
  };
  const refresher: CacheRefresher<P> = {
    id: options.id,
    refreshAll: async () => {
      await store.clear();
    },
    refresh: drop,
    remove: drop,
  };
  if (options.name !== undefined) Object.assign(refresher, { name: options.name });
  const { entry } = options;
  if (entry) {
    refresher.refreshPayload = async (payloads) => {
      for (const payload of payloads) {
        const [k, v] = entry(payload);
        await store.set(k, v);
      }
    };
  }
  return refresher;
}
