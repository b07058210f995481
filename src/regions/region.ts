import { LRUCache } from 'lru-cache';
import type { Knex } from 'knex';
import type { Executor } from '../store/executor.js';
import { errors } from '../errors.js';
import type { DistcacheEvents } from '../events.js';
import type { CacheId, JsonValue } from '../instructions/types.js';
import type { CacheRefresher } from '../refreshers/refresher.js';
import { RejectedPayloadError, type PayloadRejection } from '../refreshers/payload-schema.js';
import { regionKey, type RegionKey } from './keys.js';
import { LoadTable } from './loads.js';
import { LoadRunner, oneOfMany, type Fallback } from './load-runner.js';
import { checkTags, resolveLoadOptions, resolveRegionOptions } from './options.js';
import type { LoadOptions, RegionBulkLoader, RegionLoader, RegionOptions, ResolvedRegionOptions } from './options.js';
import { getMany, type BulkRegion } from './bulk.js';
import { readRegionPayload, tagsPayload, valuePayload } from './payloads.js';
import { emptyCounters, type RegionStats } from './stats.js';
import { TagIndex } from './tags.js';

/** How a region writes its instructions: the DistributedCache it belongs to. */
/** Each write resolves to its position token (see cache.waitFor). */
export interface RegionHost {
  refresh(refresher: string, ids: CacheId[], options?: RegionWriteOptions): Promise<string>;
  remove(refresher: string, ids: CacheId[], options?: RegionWriteOptions): Promise<string>;
  refreshAll(refresher: string, options?: RegionWriteOptions): Promise<string>;
  refreshPayload(refresher: string, payloads: JsonValue[], options?: RegionWriteOptions): Promise<string>;
  emit<E extends 'region:load-error' | 'region:load-discarded' | 'region:invalidated'>(event: E, payload: DistcacheEvents[E]): void;
}

export interface RegionWriteOptions {
  /**
   * Write inside this transaction: a knex transaction, or an executor over another library's
   * transaction (`distcache/executors`). Every server, this one included, applies it after the commit.
   */
  trx?: Knex.Transaction | Executor;
}

/** A cached "not found" (cacheMisses); lru-cache cannot hold undefined. */
const MISS = Symbol('distcache.miss');
/** Nothing fresh is cached for the key. */
const NOTHING = Symbol('distcache.nothing');
type Slot<T> = T | typeof MISS;
type Tags = readonly string[] | undefined;

/**
 * A cache region: a bounded in-process cache (lru-cache) that loads through, one load per key at
 * a time, and is kept in step with every other server by the refresher registered under its id.
 *
 * The guarantee: once an invalidation of a key (refresh, remove, refreshAll, tags, a value
 * payload, a cold boot) has been applied on this server, no later read here returns a value
 * whose load began before it. Each invalidation takes the key's load out of the load table
 * (see loads.ts); a load stores its value only while it is still there.
 *
 * @example
 * const products = cache.region<Product>('product', { load: (id) => db.product(id), ttl: '10m', grace: '1h' });
 * await cache.start();
 * const p = await products.get(42);
 * await knex.transaction(async (trx) => { await trx('product').update(...); await products.refresh([42], { trx }); });
 */
export class Region<T> {
  readonly options: ResolvedRegionOptions<T>;
  private readonly lru: LRUCache<RegionKey, Slot<T> & {}>;
  private readonly loads = new LoadTable<T>();
  private readonly tags = new TagIndex();
  private readonly counters = emptyCounters();
  private readonly runner: LoadRunner<T>;
  /** With refreshAhead: when each entry turns late (refreshAhead × its own ttl after it was stored). */
  private readonly refreshAt = new Map<RegionKey, number>();
  /**
   * Entries are stored only while this server applies the log (after its first sync, until
   * stop()): outside that window no invalidation would reach them. Loads still run, single-flight.
   */
  private storing = false;

  constructor(
    readonly id: string,
    options: RegionOptions<T>,
    private readonly host: RegionHost,
  ) {
    this.options = resolveRegionOptions(id, options);
    const o = this.options;
    const lruOptions: LRUCache.Options<RegionKey, Slot<T> & {}, unknown> = {
      ...(o.max !== undefined ? { max: o.max } : {}),
      ...(o.maxSize !== undefined
        ? { maxSize: o.maxSize, sizeCalculation: (v: Slot<T>, k: RegionKey) => (v === MISS ? 1 : o.sizeOf!(v as T, k)) }
        : {}),
      // 0: lru-cache then reads the clock on each check and keeps no timer to forget its cached reading.
      ttlResolution: 0,
      ...(o.clock ? { perf: o.clock } : {}),
      dispose: (_value, key, reason) => {
        if (this.refreshAt.size > 0) this.refreshAt.delete(key);
        this.tags.drop(key);
        if (reason === 'evict') this.counters.evictions += 1;
      },
    } as LRUCache.Options<RegionKey, Slot<T> & {}, unknown>;
    this.lru = new LRUCache(lruOptions);
    const { loads, counters } = this;
    this.runner = new LoadRunner<T>({
      id,
      options: o,
      loads,
      counters,
      host,
      store: (k, v, ttl, tags) => this.storeLoaded(k, v, ttl, tags),
    });
  }

  /** The cached value, or the region's loader's (single-flight). Resolves undefined for "not found". */
  get(key: RegionKey): Promise<T | undefined> {
    let k: RegionKey;
    try {
      k = regionKey(key);
    } catch (err) {
      return Promise.reject(err);
    }
    const found = this.options.refreshAhead === 0 ? this.fresh(k) : this.freshAhead(k, this.options.load ?? this.bulkAsOne);
    if (found !== NOTHING) {
      this.counters.hits += 1;
      return Promise.resolve(found === MISS ? undefined : this.out(found));
    }
    this.counters.misses += 1;
    const loader = this.options.load ?? this.bulkAsOne;
    if (!loader) {
      return Promise.reject(
        new errors.InvalidOptionError(`region('${this.id}') has no load option; pass one, or use getOrLoad(key, loader)`),
      );
    }
    return this.join(k, loader, undefined, undefined);
  }

  /** Like get(), with this loader, ttl and tags; a load already in flight for the key is joined instead. */
  getOrLoad(key: RegionKey, loader: RegionLoader<T>, options?: LoadOptions): Promise<T | undefined> {
    let k: RegionKey;
    let resolved: ReturnType<typeof resolveLoadOptions>;
    try {
      k = regionKey(key);
      if (typeof loader !== 'function') {
        throw new errors.InvalidOptionError(`region('${this.id}') getOrLoad: loader must be a function () => value | undefined`);
      }
      resolved = resolveLoadOptions(this.id, options);
    } catch (err) {
      return Promise.reject(err);
    }
    const found = this.freshAhead(k, loader, resolved.ttl, resolved.tags);
    if (found !== NOTHING) {
      this.counters.hits += 1;
      return Promise.resolve(found === MISS ? undefined : this.out(found));
    }
    this.counters.misses += 1;
    return this.join(k, loader, resolved.ttl, resolved.tags);
  }

  /**
   * The values of many keys, in the order of `keys` (`undefined` for not found): hits from the
   * cache, keys already loading join those loads, and the other misses load in one `loadMany`
   * call (or, without it, each through `load`, single-flight). Each key is its own load: an
   * invalidation of one key while the batch loads discards that key's result only.
   */
  getMany(keys: RegionKey[]): Promise<(T | undefined)[]> {
    return getMany(this.bulk, keys, this.options.loadMany, undefined);
  }

  /** getMany() with this bulk loader, ttl and tags (the getOrLoad of many keys). */
  getOrLoadMany(keys: RegionKey[], loadMany: RegionBulkLoader<T>, options?: LoadOptions): Promise<(T | undefined)[]> {
    return getMany(this.bulk, keys, loadMany, options);
  }

  /** The fresh cached value, or undefined; never loads, never counts. */
  peek(key: RegionKey): T | undefined {
    const found = this.fresh(regionKey(key), true);
    return found === NOTHING || found === MISS ? undefined : this.out(found);
  }

  /** Every server drops these keys (the next read loads them). Same as cache.refresh(id, keys). */
  refresh(keys: RegionKey | RegionKey[], options?: RegionWriteOptions): Promise<string> {
    return this.send((ids) => this.host.refresh(this.id, ids, options), keys);
  }

  /** Every server removes these keys. Same as cache.remove(id, keys). */
  remove(keys: RegionKey | RegionKey[], options?: RegionWriteOptions): Promise<string> {
    return this.send((ids) => this.host.remove(this.id, ids, options), keys);
  }

  /** Keys go out in their one form ('42' as 42), so the log and every coalescing step see one id. */
  private send(write: (ids: RegionKey[]) => Promise<string>, keys: RegionKey | RegionKey[]): Promise<string> {
    try {
      return write((Array.isArray(keys) ? keys : [keys]).map(regionKey));
    } catch (err) {
      return Promise.reject(err);
    }
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

  stats(): RegionStats {
    const { hits, misses } = this.counters;
    const hitRatio = hits + misses === 0 ? 0 : hits / (hits + misses);
    return { region: this.id, ...this.counters, size: this.lru.size, hitRatio, loadDurations: this.runner.durations.snapshot() };
  }

  /** The refresher the log drives; registered under the region's id by cache.region(). */
  asRefresher(): CacheRefresher<unknown> {
    return {
      id: this.id,
      name: `region ${this.id}`,
      refreshAll: () => this.invalidateAll(),
      refresh: (ids) => this.invalidate(ids),
      remove: (ids) => this.invalidate(ids),
      refreshPayload: (payloads) => this.applyPayloads(payloads),
    };
  }

  /** @internal Turns storing on (first sync done) or off (stop(): the region is emptied). */
  setStoring(storing: boolean): void {
    if (!storing) this.invalidateAll();
    this.storing = storing;
  }

  /** @internal Applies an invalidation of keys on this server. */
  invalidate(keys: readonly CacheId[]): void {
    const dropped = keys.map(regionKey);
    for (const k of dropped) {
      this.loads.forget(k);
      this.lru.delete(k);
    }
    this.host.emit('region:invalidated', { region: this.id, keys: dropped, tags: null, values: false });
  }

  /** @internal refreshAll or a cold boot on this server: empty, and every load in flight overtaken. */
  invalidateAll(): void {
    this.loads.clear();
    this.lru.clear();
    this.tags.clear();
    this.host.emit('region:invalidated', { region: this.id, keys: 'all', tags: null, values: false });
  }

  /** @internal */
  invalidateTags(tags: readonly string[]): void {
    const set = new Set(tags);
    this.loads.forgetTagged(set);
    const keys = this.tags.keysOf(set);
    for (const key of keys) this.lru.delete(key);
    this.host.emit('region:invalidated', { region: this.id, keys, tags: [...tags], values: false });
  }

  /** @internal A value from the log: it replaces the entry and overtakes the key's load in flight. */
  storeValue(key: RegionKey, value: T, tags?: readonly string[]): void {
    const k = regionKey(key);
    this.loads.forget(k);
    if (this.storing) this.put(k, value, undefined, tags);
    else this.lru.delete(k);
    this.host.emit('region:invalidated', { region: this.id, keys: [k], tags: null, values: true });
  }

  private applyPayloads(payloads: unknown[]): void {
    const rejected: PayloadRejection[] = [];
    for (const payload of payloads) {
      const read = readRegionPayload(this.id, payload);
      if (read.kind === 'value') this.storeValue(read.key, read.value as T, read.tags);
      else if (read.kind === 'tags') this.invalidateTags(read.tags);
      else rejected.push({ payload, reason: read.reason });
    }
    // The valid payloads were applied in order; the bad ones are recorded once, never retried.
    if (rejected.length > 0) throw new RejectedPayloadError(this.id, rejected);
  }

  /** The fresh slot: within ttl (an entry in its grace period is not fresh), or NOTHING. */
  private fresh(k: RegionKey, quiet = false): Slot<T> | typeof NOTHING {
    if (this.options.grace > 0) {
      // Stored with ttl + grace, so lru-cache keeps it through the grace period; fresh while more than grace remains.
      if (!(this.lru.getRemainingTTL(k) > this.options.grace)) return NOTHING;
    }
    const slot = quiet ? this.lru.peek(k) : this.lru.get(k);
    return slot === undefined ? NOTHING : slot;
  }

  /** fresh(), and with refreshAhead a hit late in its ttl starts one background load (bulk.ts isLate). */
  private freshAhead(k: RegionKey, loader: RegionLoader<T> | undefined, ttl?: number, tags?: Tags): Slot<T> | typeof NOTHING {
    const o = this.options;
    if (o.refreshAhead === 0 || !loader) return this.fresh(k);
    const slot = this.fresh(k);
    if (slot === NOTHING) return NOTHING;
    const late = this.refreshAt.get(k);
    if (late !== undefined && this.now() >= late && !this.loads.get(k) && this.storing) this.ahead(k, loader, ttl, tags);
    return slot;
  }

  private now(): number {
    return this.options.clock ? this.options.clock.now() : performance.now();
  }

  /** A refresh-ahead: a load like any other, so an invalidation while it runs discards it. */
  private ahead(k: RegionKey, loader: RegionLoader<T>, ttl: number | undefined, tags: Tags): void {
    this.counters.refreshesAhead += 1;
    this.runner.one(k, loader, ttl, tags, undefined, 'background').promise.catch(() => undefined);
  }

  private join(k: RegionKey, loader: RegionLoader<T>, ttl: number | undefined, tags: Tags): Promise<T | undefined> {
    const current = this.loads.get(k);
    const backoff = !current && this.runner.inBackoff(k) ? this.graced(k) : undefined;
    if (backoff) this.counters.servedFromGrace += 1;
    const promise = current
      ? current.promise
      : backoff
        ? Promise.resolve(backoff.value)
        : this.runner.one(k, loader, ttl, tags, this.graced(k), 'read').promise;
    return this.options.clone ? promise.then((v) => (v === undefined ? v : structuredClone(v))) : promise;
  }

  /** An entry in its grace period: the answer if a load fails or times out. It was never invalidated, or it would be gone. */
  private graced(k: RegionKey): Fallback<T> {
    if (this.options.grace === 0) return undefined;
    const slot = this.lru.peek(k);
    return slot === undefined ? undefined : { value: slot === MISS ? undefined : (slot as T) };
  }

  /** The region's loader for one key when it has only loadMany. */
  private get bulkAsOne(): RegionLoader<T> | undefined {
    return this.options.loadMany ? oneOfMany(this.options.loadMany) : undefined;
  }

  /** What getMany (bulk.ts) needs of this region. */
  private get bulk(): BulkRegion<T> {
    return {
      id: this.id,
      options: this.options,
      loads: this.loads,
      runner: this.runner,
      hit: (k, loader, ttl, tags) => {
        const found = this.freshAhead(k, loader, ttl, tags);
        if (found === NOTHING) return undefined;
        return { value: found === MISS ? undefined : this.out(found) };
      },
      graced: (k) => this.graced(k),
      counters: this.counters,
    };
  }

  private storeLoaded(k: RegionKey, value: T | undefined, ttl: number | undefined, tags: Tags): void {
    if (this.storing) this.put(k, value, ttl, tags);
  }

  private put(k: RegionKey, value: T | undefined, ttl: number | undefined, tags: readonly string[] | undefined): void {
    const o = this.options;
    if (value === undefined && o.cacheMisses === 0) {
      // Not found, and misses are not cached: an older entry must not outlive this newer answer.
      this.lru.delete(k);
      return;
    }
    const life = value === undefined ? o.cacheMisses : (ttl ?? o.ttl);
    const slot = (value === undefined ? MISS : value) as Slot<T> & {};
    this.lru.set(k, slot, life > 0 ? { ttl: life + o.grace } : { ttl: 0 });
    if (o.refreshAhead > 0 && life > 0 && this.lru.has(k)) this.refreshAt.set(k, this.now() + o.refreshAhead * life);
    if (tags?.length && this.lru.has(k)) this.tags.add(k, tags);
  }

  private out(value: Slot<T>): T {
    return this.options.clone ? structuredClone(value as T) : (value as T);
  }
}
