import type { NowClock } from '../util/timers.js';
import { parseDuration, type Duration } from '../duration.js';
import { errors } from '../errors.js';
import type { RegionKey } from './keys.js';

/**
 * What a loader may decide once it has its value (bentocache's `ctx.setOptions`/`ctx.skip()`,
 * FusionCache's adaptive caching). Passed as the loader's second argument; ignoring it is fine.
 *
 * @example
 * cache.region<Product>('product', {
 *   load: async (id, ctx) => {
 *     const p = await db.product(id, { signal: ctx.signal });
 *     if (p?.draft) ctx.skip(); // answer it, cache nothing
 *     else if (p) ctx.ttl(p.hot ? '30s' : '10m').tags([`category:${p.categoryId}`]);
 *     return p;
 *   },
 * });
 */
export interface LoadContext {
  /** Store this entry for this long instead of the region's (or getOrLoad's) ttl. */
  ttl(ttl: Duration): LoadContext;
  /**
   * Add tags to the entry. Tags given here are only known when the load ends, so a `refreshTags`
   * of any tag applied while the load ran discards its result (it answers its callers, stores nothing).
   */
  tags(tags: string[]): LoadContext;
  /** Answer the callers with the value, and store nothing. */
  skip(): LoadContext;
  /** Aborted when `hardTimeout` abandons the load; pass it to fetch() or a query that takes one. */
  readonly signal: AbortSignal;
}

/**
 * A loader: resolves to the value, or to `undefined` for "not found". `ctx` (optional to use)
 * sets this entry's ttl or tags once the value is known, skips storing it, and carries the
 * AbortSignal that `hardTimeout` aborts.
 */
export type RegionLoader<T> = (key: RegionKey, ctx: LoadContext) => T | undefined | Promise<T | undefined>;

/**
 * A bulk loader: one call for every key a `getMany()` missed. A key absent from the map means
 * "not found". The map's keys may be numbers or strings (`'42'` and `42` name one key).
 */
export type RegionBulkLoader<T> = (keys: RegionKey[], ctx: LoadContext) => Promise<Map<RegionKey, T>> | Map<RegionKey, T>;

/** The clock entries age by and, if it has them, the timers `timeout`/`hardTimeout` use (tests move both by hand). */
export interface RegionClock extends NowClock {
  setTimeout?(fn: () => void, ms: number): unknown;
  clearTimeout?(handle: unknown): void;
}

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
  /**
   * The size of one value, a positive whole number, for `maxSize`; `'json'` measures the bytes of
   * its JSON text (one `JSON.stringify` per store).
   */
  sizeOf?: ((value: T, key: RegionKey) => number) | 'json';
  /**
   * The loader `getMany(keys)` calls once for all of its misses (keys already loading join those
   * loads instead). Without it, each miss goes through `load`. @default none
   */
  loadMany?: RegionBulkLoader<T>;
  /**
   * A fraction of the ttl (0 < f < 1): a hit on an entry older than `f × ttl` answers at once and
   * starts one background load that refreshes the entry. Needs `ttl`. @default none
   */
  refreshAhead?: number;
  /**
   * Soft loader timeout: after this, a caller with a graced entry (expired, never invalidated) is
   * answered with it, and the load goes on in the background to refresh the entry. Needs `grace`
   * to have any effect. @default none
   */
  timeout?: Duration;
  /**
   * Hard loader timeout: after this the load is abandoned. Its callers get a graced entry if there
   * is one, else E_LOAD_TIMEOUT; the loader's `ctx.signal` is aborted; its value is never stored.
   * @default none
   */
  hardTimeout?: Duration;
  /**
   * After a load of a key failed (or hit `hardTimeout`), reads of its graced entry are answered
   * with it for this long without starting another load. Needs `grace`. @default 0
   */
  graceBackoff?: Duration;
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
  clock?: RegionClock;
  /**
   * A request cache: inside a request (the express/fastify `requestScope` middleware, or
   * `cache.runInRequest(fn)`), each key is read from the region (or loaded, or cloned) once and then
   * answered from the request's own memo, at most `max` keys per request (more are read as usual).
   * An invalidation applied on this server during the request reaches the memo too. `true` is
   * `{ max: 1000 }`. @default false
   */
  perRequest?: boolean | { max?: number };
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
  readonly clock: RegionClock | undefined;
  readonly loadMany: RegionBulkLoader<T> | undefined;
  /** 0 = no refresh-ahead. */
  readonly refreshAhead: number;
  /** 0 = none. */
  readonly timeout: number;
  /** 0 = none. */
  readonly hardTimeout: number;
  readonly graceBackoff: number;
  /** Keys per request in the request cache; 0 = no request cache. */
  readonly perRequest: number;
}

export const REGION_DEFAULTS = Object.freeze({
  max: 10_000,
  ttl: 0,
  grace: 0,
  cacheMisses: 0,
  clone: false,
  refreshAhead: 0,
  timeout: 0,
  hardTimeout: 0,
  graceBackoff: 0,
  perRequest: 0,
} satisfies Partial<ResolvedRegionOptions<unknown>>);

/** `perRequest: true`: keys per request in a region's request cache. */
export const PER_REQUEST_MAX = 1000;

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
  if (notFunction(options.sizeOf) && options.sizeOf !== 'json') {
    invalid(id, 'sizeOf', "must be 'json' or a function (value, key) => positive whole number");
  }
  if (notFunction(options.loadMany)) invalid(id, 'loadMany', 'must be a function (keys) => Promise<Map<key, value>>');
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
  const refreshAhead = options.refreshAhead ?? REGION_DEFAULTS.refreshAhead;
  if (typeof refreshAhead !== 'number' || !(refreshAhead >= 0 && refreshAhead < 1)) {
    invalid(id, 'refreshAhead', `${JSON.stringify(refreshAhead)} must be a fraction of the ttl above 0 and below 1, such as 0.8`);
  }
  if (refreshAhead > 0 && ttl === 0) invalid(id, 'refreshAhead', 'needs ttl: it is a fraction of the ttl');
  const timeout = duration(id, 'timeout', options.timeout, REGION_DEFAULTS.timeout);
  const hardTimeout = duration(id, 'hardTimeout', options.hardTimeout, REGION_DEFAULTS.hardTimeout);
  if (timeout > 0 && hardTimeout > 0 && hardTimeout <= timeout) invalid(id, 'hardTimeout', 'must be longer than timeout');
  const graceBackoff = duration(id, 'graceBackoff', options.graceBackoff, REGION_DEFAULTS.graceBackoff);
  if (graceBackoff > 0 && grace === 0) invalid(id, 'graceBackoff', 'needs grace: it serves the graced entry while it lasts');
  const perRequest = resolvePerRequest(id, options.perRequest);
  return Object.freeze({
    load: options.load,
    max,
    maxSize,
    sizeOf: options.sizeOf === 'json' ? jsonSize : options.sizeOf,
    ttl,
    grace,
    cacheMisses,
    clone: options.clone ?? REGION_DEFAULTS.clone,
    clock: options.clock,
    loadMany: options.loadMany,
    refreshAhead,
    timeout,
    hardTimeout,
    graceBackoff,
    perRequest,
  });
}

function resolvePerRequest(id: string, value: RegionOptions<unknown>['perRequest']): number {
  if (value === undefined || value === false) return REGION_DEFAULTS.perRequest;
  if (value === true) return PER_REQUEST_MAX;
  if (typeof value !== 'object' || value === null) invalid(id, 'perRequest', 'must be true, false or { max }');
  return positiveInteger(id, 'perRequest.max', value.max) ?? PER_REQUEST_MAX;
}

/** `sizeOf: 'json'`: the UTF-8 bytes of the value's JSON text, at least 1. */
function jsonSize(value: unknown): number {
  return Math.max(1, Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8'));
}

/** Options of one `getOrLoad()` call. */
export interface LoadOptions {
  /** This entry's ttl instead of the region's. */
  ttl?: Duration;
  /** Tags: `refreshTags([tag])` drops the entry, and this load if it is still in flight. */
  tags?: string[];
}

export const TAG_PATTERN = /^[\s\S]{1,256}$/;

/** getOrLoad() without options: one object for every call (it is on getOrLoad's hit path). */
const NO_LOAD_OPTIONS = Object.freeze({ ttl: undefined, tags: undefined });

export function resolveLoadOptions(
  id: string,
  options: LoadOptions | undefined,
): { ttl: number | undefined; tags: readonly string[] | undefined } {
  if (options === undefined) return NO_LOAD_OPTIONS;
  const ttl = options.ttl === undefined ? undefined : duration(id, 'getOrLoad ttl', options.ttl, 0);
  return { ttl, tags: options.tags === undefined ? undefined : checkTags(id, 'getOrLoad tags', options.tags) };
}

export function checkTags(id: string, where: string, tags: unknown): string[] {
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string' || !TAG_PATTERN.test(t))) {
    invalid(id, where, `${JSON.stringify(tags)?.slice(0, 200)} must be an array of strings of 1 to 256 characters, such as ['category:7']`);
  }
  return tags as string[];
}
