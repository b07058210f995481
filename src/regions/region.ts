import { errors } from '../errors.js';
import type { CacheId } from '../instructions/types.js';
import type { CacheRefresher } from '../refreshers/refresher.js';
import { RejectedPayloadError, type PayloadRejection } from '../refreshers/payload-schema.js';
import { getMany, type BulkRegion } from './bulk.js';
import { Entries, MISS, NOTHING, type Slot } from './entries.js';
import { isOneForm, regionKey, type RegionKey } from './keys.js';
import { LoadRunner, oneOfMany } from './load-runner.js';
import { LoadTable } from './loads.js';
import { resolveLoadOptions, resolveRegionOptions } from './options.js';
import type { LoadOptions, RegionBulkLoader, RegionLoader, RegionOptions, ResolvedRegionOptions } from './options.js';
import { readRegionPayload } from './payloads.js';
import { emptyCounters, type RegionStats } from './stats.js';
import { RegionWriter, type RegionHost } from './writes.js';

export type { RegionHost, RegionWriteOptions } from './writes.js';

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
 * This file reads and applies; the entries live in entries.ts, loads run in load-runner.ts, and
 * the write methods (refresh, remove, refreshAll, refreshTags, refreshValues) come from writes.ts.
 *
 * @example
 * const products = cache.region<Product>('product', { load: (id) => db.product(id), ttl: '10m', grace: '1h' });
 * await cache.start();
 * const p = await products.get(42);
 * await knex.transaction(async (trx) => { await trx('product').update(...); await products.refresh([42], { trx }); });
 */
export class Region<T> extends RegionWriter<T> {
  readonly options: ResolvedRegionOptions<T>;
  private readonly entries: Entries<T>;
  private readonly loads = new LoadTable<T>();
  private readonly counters = emptyCounters();
  private readonly runner: LoadRunner<T>;
  /** The loader for one key: `load`, or `loadMany` called with that key alone. */
  private readonly loader: RegionLoader<T> | undefined;
  /**
   * Entries are stored only while this server applies the log (after its first sync, until
   * stop()): outside that window no invalidation would reach them. Loads still run, single-flight.
   */
  private storing = false;
  /** options.refreshAhead > 0 and options.clone, read on every hit. */
  private readonly refreshesAhead: boolean;
  private readonly clones: boolean;

  constructor(id: string, options: RegionOptions<T>, host: RegionHost) {
    super(id, host);
    this.options = resolveRegionOptions(id, options);
    const o = this.options;
    this.entries = new Entries<T>(o, this.counters);
    this.loader = o.load ?? (o.loadMany ? oneOfMany(o.loadMany) : undefined);
    this.refreshesAhead = o.refreshAhead > 0;
    this.clones = o.clone;
    const { loads, counters } = this;
    this.runner = new LoadRunner<T>({
      id,
      options: o,
      loads,
      counters,
      host,
      store: (k, v, ttl, tags) => {
        if (this.storing) this.entries.put(k, v, ttl, tags);
      },
    });
  }

  /** The cached value, or the region's loader's (single-flight). Resolves undefined for "not found". */
  get(key: RegionKey): Promise<T | undefined> {
    return isOneForm(key) ? this.read(key) : this.readAnyKey(key);
  }

  /**
   * get() of a key in its one form. The hit path, kept small (the miss goes to another method) so
   * the caller's code can take it in whole: a hit must cost no more than a hand-written
   * read-through over lru-cache (bench #9).
   */
  private read(k: RegionKey): Promise<T | undefined> {
    const found = this.entries.fresh(k);
    if (found === NOTHING) return this.miss(k);
    // The answer first: a refresh-ahead's loader starts at once and may read this region itself.
    const answer = this.answer(found);
    if (this.refreshesAhead && this.entries.wasLate()) this.ahead(k, this.loader, undefined, undefined);
    return answer;
  }

  /** A hit's answer: the entry's one resolved promise, or with `clone` each caller's own copy. */
  private answer(found: Slot<T>): Promise<T | undefined> {
    if (this.clones) return Promise.resolve(found === MISS ? undefined : structuredClone(found as T));
    return this.entries.answer(found);
  }

  private readAnyKey(key: RegionKey): Promise<T | undefined> {
    try {
      return this.read(regionKey(key));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private miss(k: RegionKey): Promise<T | undefined> {
    if (!this.loader) {
      return Promise.reject(
        new errors.InvalidOptionError(`region('${this.id}') has no load option; pass one, or use getOrLoad(key, loader)`),
      );
    }
    return this.join(k, this.loader, undefined, undefined);
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
    const found = this.entries.fresh(k);
    if (found === NOTHING) return this.join(k, loader, resolved.ttl, resolved.tags);
    const answer = this.answer(found);
    if (this.refreshesAhead && this.entries.wasLate()) this.ahead(k, loader, resolved.ttl, resolved.tags);
    return answer;
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
    const found = this.entries.peek(regionKey(key));
    return found === NOTHING || found === MISS ? undefined : this.out(found);
  }

  stats(): RegionStats {
    const { hits, misses, size } = this.entries;
    const hitRatio = hits + misses === 0 ? 0 : hits / (hits + misses);
    return { region: this.id, hits, misses, ...this.counters, size, hitRatio, loadDurations: this.runner.durations.snapshot() };
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

  /** @internal Turns storing on (first sync done) or off (stop(): the region is emptied and holds no timer). */
  setStoring(storing: boolean): void {
    if (!storing) {
      this.invalidateAll();
      this.entries.stop();
    }
    this.storing = storing;
  }

  /** @internal Applies an invalidation of keys on this server. */
  invalidate(keys: readonly CacheId[]): void {
    const dropped = keys.map(regionKey);
    for (const k of dropped) {
      this.loads.forget(k);
      this.entries.delete(k);
    }
    this.host.emit('region:invalidated', { region: this.id, keys: dropped, tags: null, values: false });
  }

  /** @internal refreshAll or a cold boot on this server: empty, and every load in flight overtaken. */
  invalidateAll(): void {
    this.loads.clear();
    this.entries.clear();
    this.host.emit('region:invalidated', { region: this.id, keys: 'all', tags: null, values: false });
  }

  /** @internal */
  invalidateTags(tags: readonly string[]): void {
    this.loads.forgetTagged(new Set(tags));
    const keys = this.entries.deleteTagged(tags);
    this.host.emit('region:invalidated', { region: this.id, keys, tags: [...tags], values: false });
  }

  /** @internal A value from the log: it replaces the entry and overtakes the key's load in flight. */
  storeValue(key: RegionKey, value: T, tags?: readonly string[]): void {
    const k = regionKey(key);
    this.loads.forget(k);
    if (this.storing) this.entries.put(k, value, undefined, tags);
    else this.entries.delete(k);
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

  /**
   * A hit late in its ttl (refreshAhead) starts one background load with this loader: a load like
   * any other, so an invalidation while it runs discards it. One at a time per key.
   */
  private ahead(k: RegionKey, loader: RegionLoader<T> | undefined, ttl: number | undefined, tags: Tags): void {
    if (!loader || !this.storing || this.loads.get(k)) return;
    this.counters.refreshesAhead += 1;
    this.runner.one(k, loader, ttl, tags, undefined, 'background').promise.catch(() => undefined);
  }

  private join(k: RegionKey, loader: RegionLoader<T>, ttl: number | undefined, tags: Tags): Promise<T | undefined> {
    const current = this.loads.get(k);
    const backoff = !current && this.runner.inBackoff(k) ? this.entries.graced(k) : undefined;
    if (backoff) this.counters.servedFromGrace += 1;
    const promise = current
      ? current.promise
      : backoff
        ? Promise.resolve(backoff.value)
        : this.runner.one(k, loader, ttl, tags, this.entries.graced(k), 'read').promise;
    return this.options.clone ? promise.then((v) => (v === undefined ? v : structuredClone(v))) : promise;
  }

  /** What getMany (bulk.ts) needs of this region; it counts hits and misses itself. */
  private get bulk(): BulkRegion<T> {
    return {
      id: this.id,
      options: this.options,
      loads: this.loads,
      runner: this.runner,
      hit: (k, loader, ttl, tags) => {
        const found = this.entries.fresh(k);
        if (found === NOTHING) return undefined;
        if (this.options.refreshAhead > 0 && this.entries.wasLate()) this.ahead(k, loader, ttl, tags);
        return { value: found === MISS ? undefined : this.out(found) };
      },
      graced: (k) => this.entries.graced(k),
      counters: this.counters,
    };
  }

  private out(value: Slot<T>): T {
    return this.options.clone ? structuredClone(value as T) : (value as T);
  }
}
