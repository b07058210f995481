import type { Knex } from 'knex';
import { errors } from '../errors.js';
import type { DistcacheEvents } from '../events.js';
import type { CacheId, JsonValue } from '../instructions/types.js';
import type { Executor } from '../store/executor.js';
import { regionKey, type RegionKey } from './keys.js';
import { checkTags } from './options.js';
import { tagsPayload, valuePayload } from './payloads.js';

/**
 * How a region writes its instructions: the DistributedCache it belongs to. Each write resolves to
 * its position token (see cache.waitFor).
 */
export interface RegionHost {
  refresh(refresher: string, ids: CacheId[], options?: RegionWriteOptions): Promise<string>;
  remove(refresher: string, ids: CacheId[], options?: RegionWriteOptions): Promise<string>;
  refreshAll(refresher: string, options?: RegionWriteOptions): Promise<string>;
  refreshPayload(refresher: string, payloads: JsonValue[], options?: RegionWriteOptions): Promise<string>;
  emit<E extends 'region:load-error' | 'region:load-discarded' | 'region:load-finished' | 'region:invalidated'>(
    event: E,
    payload: DistcacheEvents[E],
  ): void;
}

export interface RegionWriteOptions {
  /**
   * Write inside this transaction: a knex transaction, or an executor over another library's
   * transaction (`distcache/executors`). Every server, this one included, applies it after the commit.
   */
  trx?: Knex.Transaction | Executor;
}

/**
 * The writing half of a region: each method writes one instruction to the log under the region's
 * id, and every server (this one included, once it applies the log) drops or replaces entries.
 * Each resolves to the write's position token: `cache.waitFor(token)` on another server.
 * Nothing here touches this server's entries directly; region.ts applies what the log brings back.
 */
export class RegionWriter<T> {
  constructor(
    readonly id: string,
    protected readonly host: RegionHost,
  ) {}

  /** Every server drops these keys (the next read loads them). Same as cache.refresh(id, keys). */
  refresh(keys: RegionKey | RegionKey[], options?: RegionWriteOptions): Promise<string> {
    return this.send((ids) => this.host.refresh(this.id, ids, options), keys);
  }

  /** Every server removes these keys. Same as cache.remove(id, keys). */
  remove(keys: RegionKey | RegionKey[], options?: RegionWriteOptions): Promise<string> {
    return this.send((ids) => this.host.remove(this.id, ids, options), keys);
  }

  /** Every server empties this region and discards its loads in flight. */
  refreshAll(options?: RegionWriteOptions): Promise<string> {
    return this.host.refreshAll(this.id, options);
  }

  /** Every server drops every entry, and every load in flight, that carries one of these tags. */
  refreshTags(tags: string[], options?: RegionWriteOptions): Promise<string> {
    try {
      checkTags(this.id, 'refreshTags', tags);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.host.refreshPayload(this.id, [tagsPayload(tags)], options);
  }

  /**
   * Every server stores these values, with no load (a `{ key, value, tags? }` payload each), in
   * log order with every other instruction for the region. Values must be JSON.
   */
  refreshValues(entries: { key: RegionKey; value: T & JsonValue; tags?: string[] }[], options?: RegionWriteOptions): Promise<string> {
    try {
      if (!Array.isArray(entries) || entries.length === 0) {
        throw new errors.InvalidInstructionError(`region('${this.id}') refreshValues: give at least one { key, value }`);
      }
      const tagsOf = (tags: string[] | undefined) => (tags === undefined ? undefined : checkTags(this.id, 'refreshValues tags', tags));
      const payloads = entries.map((e) => valuePayload(regionKey(e.key), e.value, tagsOf(e.tags)));
      return this.host.refreshPayload(this.id, payloads, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Keys go out in their one form ('42' as 42), so the log and every coalescing step see one id. */
  private send(write: (ids: RegionKey[]) => Promise<string>, keys: RegionKey | RegionKey[]): Promise<string> {
    try {
      return write((Array.isArray(keys) ? keys : [keys]).map(regionKey));
    } catch (err) {
      return Promise.reject(err);
    }
  }
}
