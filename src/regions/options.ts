import type { NowClock } from '../util/timers.js';
import { parseDuration, type Duration } from '../duration.js';
import { errors } from '../errors.js';
import type { RegionKey } from './keys.js';

/** A loader: resolves to the value, or to `undefined` for "not found". */
export type RegionLoader<T> = (key: RegionKey) => T | undefined | Promise<T | undefined>;

/**
 * Options of `cache.region<T>(id, options)`. Every option has a default except `load`, which a
 * region only needs if `get()` is used (`getOrLoad()` brings its own loader).
 *
 * @example
 * const products = cache.region<Product>('product', { load: (id) => db.product(id), max: 10_000, ttl: '10m', grace: '1h' });
 */
export interface RegionOptions<T> {
  /** The loader `get(key)` uses. Receives the key as a number when it is written as one (`'42'` → `42`). */
  load?: RegionLoader<T>;
  /** At most this many entries; the least recently used one is evicted first. @default 10_000 (unless maxSize is set) */
  max?: number;
  /** At most this total size, as `sizeOf` measures each entry. Needs `sizeOf`. @default none */
  maxSize?: number;
  /** The size of one value, a positive whole number, for `maxSize`. */
  sizeOf?: (value: T, key: RegionKey) => number;
  /** How long an entry stays fresh. Invalidations keep entries correct, so the default is no expiry. @default none */
  ttl?: Duration;
  /**
   * After `ttl`, an entry is kept this much longer and served while the loader fails (counted as
   * `servedFromGrace`). Never an entry that was invalidated. Needs `ttl`. @default 0
   */
  grace?: Duration;
  /**
   * Cache a loader's `undefined` (not found) for this long; invalidations clear it like any entry.
   * @default false (misses are not cached)
   */
  cacheMisses?: Duration | false;
  /**
   * Give each caller its own `structuredClone` of the value, so a caller that mutates it changes
   * nobody else's. Costs one deep copy per read (hits included). @default false (values are shared references)
   */
  clone?: boolean;
  /** The clock that ages entries, in milliseconds; for tests that move time by hand. @default performance */
  clock?: NowClock;
}

export interface ResolvedRegionOptions<T> {
  readonly load: RegionLoader<T> | undefined;
  readonly max: number | undefined;
  readonly maxSize: number | undefined;
  readonly sizeOf: ((value: T, key: RegionKey) => number) | undefined;
  /** 0 = no expiry. */
  readonly ttl: number;
  readonly grace: number;
  /** 0 = misses are not cached. */
  readonly cacheMisses: number;
  readonly clone: boolean;
  readonly clock: NowClock | undefined;
}

export const REGION_DEFAULTS = Object.freeze({
  max: 10_000,
  ttl: 0,
  grace: 0,
  cacheMisses: 0,
  clone: false,
} satisfies Partial<ResolvedRegionOptions<unknown>>);

function invalid(id: string, option: string, message: string): never {
  throw new errors.InvalidOptionError(`region('${id}') ${option}: ${message}`);
}

function duration(id: string, option: string, value: Duration | undefined | false, fallback: number): number {
  if (value === undefined || value === false) return fallback;
  const parsed = parseDuration(value);
  if (parsed === undefined || parsed === 0) {
    invalid(id, option, `${JSON.stringify(value)} is not a positive duration; give milliseconds or a string such as '30s', '10m'`);
  }
  return parsed;
}

function positiveInteger(id: string, option: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    invalid(id, option, `${JSON.stringify(value)} must be a whole number of at least 1`);
  }
  return value;
}

export function resolveRegionOptions<T>(id: string, options: RegionOptions<T> = {}): ResolvedRegionOptions<T> {
  if (typeof options !== 'object' || options === null) invalid(id, 'options', 'must be an object such as { load, max, ttl }');
  const notFunction = (value: unknown) => value !== undefined && typeof value !== 'function';
  if (notFunction(options.load)) invalid(id, 'load', 'must be a function (key) => value | undefined');
  if (notFunction(options.sizeOf)) invalid(id, 'sizeOf', 'must be a function (value, key) => positive whole number');
  const maxSize = positiveInteger(id, 'maxSize', options.maxSize);
  if (maxSize !== undefined && !options.sizeOf) invalid(id, 'maxSize', 'needs sizeOf, the function that measures one value');
  if (maxSize === undefined && options.sizeOf) invalid(id, 'sizeOf', 'is only used with maxSize; set maxSize too');
  const max = positiveInteger(id, 'max', options.max) ?? (maxSize === undefined ? REGION_DEFAULTS.max : undefined);
  const ttl = duration(id, 'ttl', options.ttl, REGION_DEFAULTS.ttl);
  const grace = duration(id, 'grace', options.grace, REGION_DEFAULTS.grace);
  if (grace > 0 && ttl === 0) invalid(id, 'grace', 'needs ttl: grace is how long an entry is kept after its ttl ran out');
  const cacheMisses = duration(id, 'cacheMisses', options.cacheMisses, REGION_DEFAULTS.cacheMisses);
  if (options.clone !== undefined && typeof options.clone !== 'boolean') invalid(id, 'clone', 'must be true or false');
  if (options.clock !== undefined && typeof options.clock?.now !== 'function') {
    invalid(id, 'clock', 'must have a now() method returning milliseconds');
  }
  return Object.freeze({
    load: options.load,
    max,
    maxSize,
    sizeOf: options.sizeOf,
    ttl,
    grace,
    cacheMisses,
    clone: options.clone ?? REGION_DEFAULTS.clone,
    clock: options.clock,
  });
}

/** Options of one `getOrLoad()` call. */
export interface LoadOptions {
  /** This entry's ttl instead of the region's. */
  ttl?: Duration;
  /** Tags: `refreshTags([tag])` drops the entry, and this load if it is still in flight. */
  tags?: string[];
}

export const TAG_PATTERN = /^[\s\S]{1,256}$/;

export function resolveLoadOptions(
  id: string,
  options: LoadOptions | undefined,
): { ttl: number | undefined; tags: readonly string[] | undefined } {
  if (options === undefined) return { ttl: undefined, tags: undefined };
  const ttl = options.ttl === undefined ? undefined : duration(id, 'getOrLoad ttl', options.ttl, 0);
  return { ttl, tags: options.tags === undefined ? undefined : checkTags(id, 'getOrLoad tags', options.tags) };
}

export function checkTags(id: string, where: string, tags: unknown): string[] {
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string' || !TAG_PATTERN.test(t))) {
    invalid(id, where, `${JSON.stringify(tags)?.slice(0, 200)} must be an array of strings of 1 to 256 characters, such as ['category:7']`);
  }
  return tags as string[];
}
