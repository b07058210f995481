import { LRUCache } from 'lru-cache';
import type { NowClock } from '../util/timers.js';
import { CoarseClock } from './coarse-clock.js';
import type { RegionKey } from './keys.js';
import type { Fallback } from './load-runner.js';
import type { ResolvedRegionOptions } from './options.js';
import type { RegionCounter } from './stats.js';
import { TagIndex } from './tags.js';

/** A cached "not found" (cacheMisses); lru-cache cannot hold undefined. */
export const MISS = Symbol('distcache.miss');
/** Nothing fresh is cached for the key. */
export const NOTHING = Symbol('distcache.nothing');
export type Slot<T> = T | typeof MISS;

/**
 * An entry of a timed region (one with a ttl or cached misses): the slot and its times, kept here
 * rather than in lru-cache's ttl, so a hit reads them with the value in one lookup.
 */
class Timed<T> {
  /** The answer of a hit, made on the first: a resolved promise can be handed to every reader, so later hits allocate nothing. */
  answer: Promise<T | undefined> | undefined = undefined;

  constructor(
    readonly slot: Slot<T>,
    /** Fresh until then; after it, in its grace period: kept for a failing loader, not fresh. */
    readonly freshUntil: number,
    /** Gone after this (freshUntil + grace). */
    readonly keptUntil: number,
    /** After this, a hit starts a refresh-ahead. */
    readonly lateAt: number,
  ) {}
}
type Stored<T> = (Slot<T> | Timed<T>) & {};

/**
 * lru-cache's get() makes a new options object for each call that passes none; this one is reused
 * (lru-cache writes `status: undefined` into it). Its fields are lru-cache's defaults, given as own
 * properties so reading them does not walk the prototype chain.
 */
const GET_OPTIONS = { allowStale: false, updateAgeOnGet: false, noDeleteOnStaleGet: false, status: undefined };

/**
 * The entries of one region on this server: a bounded lru-cache of values (or cached misses), with
 * their tags, their ttl plus grace, and when each turns late for refresh-ahead. It knows nothing of
 * loads or of the log; the region decides what goes in and what comes out.
 *
 * The hit path is what a region adds to every cached read, so it must cost no more than a
 * hand-written read-through over lru-cache. A timed region (a ttl, or cached misses) stores each
 * value with its times (Timed) and ages it by a clock read at most once a millisecond
 * (coarse-clock.ts), instead of lru-cache's ttl: one lookup then tells fresh from graced from
 * gone, and on time from late. An untimed region stores the value itself, costs no more memory than
 * a plain lru-cache, and gives the rare entry with a ttl of its own (getOrLoad's, ctx.ttl) to
 * lru-cache's ttl. Either way an entry past its time leaves when it is next read or evicted.
 */
export class Entries<T> {
  private readonly lru: LRUCache<RegionKey, Stored<T>>;
  private readonly tags = new TagIndex();
  private readonly clock: NowClock;
  private readonly coarse: CoarseClock | undefined;
  /** Whether entries are stored as Timed. */
  private readonly timed: boolean;
  /** Whether the last hit fresh() returned is past `refreshAhead` of its ttl. */
  private late = false;
  /** The entry of the last hit fresh() returned, in a timed region. */
  private last: Timed<T> | undefined;
  /** Reads fresh() answered from here (a cached miss included). */
  hits = 0;
  /** Reads fresh() found nothing fresh for. */
  misses = 0;

  constructor(
    private readonly options: ResolvedRegionOptions<T>,
    counters: Record<RegionCounter, number>,
  ) {
    const o = options;
    this.coarse = o.clock ? undefined : new CoarseClock();
    this.clock = o.clock ?? this.coarse!;
    this.timed = o.ttl > 0 || o.cacheMisses > 0;
    const slotOf = (stored: Stored<T>): Slot<T> => (this.timed ? (stored as Timed<T>).slot : (stored as Slot<T>));
    this.lru = new LRUCache({
      ...(o.max !== undefined ? { max: o.max } : {}),
      ...(o.maxSize !== undefined
        ? {
            maxSize: o.maxSize,
            sizeCalculation: (v: Stored<T>, k: RegionKey) => {
              const slot = slotOf(v);
              return slot === MISS ? 1 : o.sizeOf!(slot as T, k);
            },
          }
        : {}),
      // 0: lru-cache's own coarse reading leaves a timer behind that stop() could not clear; this.clock is coarse instead.
      ttlResolution: 0,
      perf: this.clock,
      dispose: (_value, key, reason) => {
        this.tags.drop(key);
        if (reason === 'evict') counters.evictions += 1;
      },
    } as LRUCache.Options<RegionKey, Stored<T>, unknown>);
  }

  /**
   * The fresh slot (an entry in its grace period is not fresh), or NOTHING, counted as a hit or a
   * miss (here, on the object the hit path already holds, rather than in the region's counters).
   * Counts as a use for eviction.
   */
  fresh(k: RegionKey): Slot<T> | typeof NOTHING {
    const stored = this.lru.get(k, GET_OPTIONS);
    if (stored === undefined) {
      this.misses += 1;
      return NOTHING;
    }
    if (!this.timed) {
      this.hits += 1;
      return stored as Slot<T>;
    }
    const entry = stored as Timed<T>;
    const now = this.clock.now();
    if (now > entry.freshUntil) {
      if (now > entry.keptUntil) this.lru.delete(k);
      this.misses += 1;
      return NOTHING;
    }
    this.hits += 1;
    this.late = now >= entry.lateAt;
    this.last = entry;
    return entry.slot;
  }

  /** The hit fresh() just returned, as a resolved promise; in a timed region, one promise per entry for all its hits. */
  answer(slot: Slot<T>): Promise<T | undefined> {
    const entry = this.last;
    if (entry === undefined || entry.slot !== slot) return Promise.resolve(slot === MISS ? undefined : (slot as T));
    return (entry.answer ??= Promise.resolve(entry.slot === MISS ? undefined : (entry.slot as T)));
  }

  /** Whether the hit fresh() just returned is past `refreshAhead` of its own ttl (a ttl from getOrLoad or ctx.ttl included). */
  wasLate(): boolean {
    return this.late;
  }

  /** fresh() without counting as a use. */
  peek(k: RegionKey): Slot<T> | typeof NOTHING {
    const stored = this.lru.peek(k);
    if (stored === undefined) return NOTHING;
    if (!this.timed) return stored as Slot<T>;
    const entry = stored as Timed<T>;
    return this.clock.now() > entry.freshUntil ? NOTHING : entry.slot;
  }

  /** An entry in its grace period: the answer if a load fails or times out. It was never invalidated, or it would be gone. */
  graced(k: RegionKey): Fallback<T> {
    if (this.options.grace === 0) return undefined;
    const entry = this.lru.peek(k) as Timed<T> | undefined;
    if (entry === undefined || this.clock.now() > entry.keptUntil) return undefined;
    return { value: entry.slot === MISS ? undefined : (entry.slot as T) };
  }

  /** Stores a value, or a not-found as MISS when misses are cached, for `ttl` (the region's unless given) plus grace. */
  put(k: RegionKey, value: T | undefined, ttl: number | undefined, tags: readonly string[] | undefined): void {
    const o = this.options;
    if (value === undefined && o.cacheMisses === 0) {
      // Not found, and misses are not cached: an older entry must not outlive this newer answer.
      this.lru.delete(k);
      return;
    }
    const life = value === undefined ? o.cacheMisses : (ttl ?? o.ttl);
    const slot = (value === undefined ? MISS : value) as Slot<T>;
    if (this.timed) this.lru.set(k, this.withTimes(slot, life));
    else this.lru.set(k, slot as Stored<T>, { ttl: life });
    if (tags?.length && this.lru.has(k)) this.tags.add(k, tags);
  }

  delete(k: RegionKey): void {
    this.lru.delete(k);
  }

  /** Deletes every entry stored under one of these tags; returns their keys. */
  deleteTagged(tags: Iterable<string>): RegionKey[] {
    const keys = this.tags.keysOf(tags);
    for (const key of keys) this.lru.delete(key);
    return keys;
  }

  clear(): void {
    this.last = undefined;
    this.lru.clear();
    this.tags.clear();
  }

  /** Empties, and lets go of the clock's timer: a stopped region holds nothing. */
  stop(): void {
    this.clear();
    this.coarse?.stop();
  }

  private withTimes(slot: Slot<T>, life: number): Timed<T> {
    if (life === 0) return new Timed(slot, Infinity, Infinity, Infinity);
    const now = this.clock.now();
    const lateAt = this.options.refreshAhead > 0 ? now + this.options.refreshAhead * life : Infinity;
    return new Timed(slot, now + life, now + life + this.options.grace, lateAt);
  }

  get size(): number {
    return this.lru.size;
  }
}
