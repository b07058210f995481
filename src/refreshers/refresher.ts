import type { CacheId, JsonValue } from '../instructions/types.js';

type MaybePromise<T> = T | Promise<T>;

/**
 * Applies cache instructions to one cache of this process. Every server registers the same
 * refreshers under the same ids. Methods may be async, and must be idempotent: delivery is
 * at-least-once, so a crash between applying and storing the cursor applies rows again.
 *
 * @example
 * const products: CacheRefresher<{ id: number; price: number }> = {
 *   id: 'product',
 *   name: 'Products',
 *   refreshAll: () => productCache.clear(),
 *   refresh: (ids) => ids.forEach((id) => productCache.delete(Number(id))),
 *   remove: (ids) => ids.forEach((id) => productCache.delete(Number(id))),
 *   refreshPayload: (payloads) => payloads.forEach((p) => productCache.set(p.id, p)),
 * };
 */
export interface CacheRefresher<TPayload = JsonValue> {
  /** Stable, unique id, the same on every server (a UUID is fine). */
  readonly id: string;
  /** A human name for logs and the CLI. */
  readonly name?: string;
  /** Drops or reloads everything. Required: it is also the fallback when another method fails. */
  refreshAll(): MaybePromise<void>;
  refresh?(ids: CacheId[]): MaybePromise<void>;
  remove?(ids: CacheId[]): MaybePromise<void>;
  refreshPayload?(payloads: TPayload[]): MaybePromise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCacheRefresher = CacheRefresher<any>;
