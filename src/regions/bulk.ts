import { errors } from '../errors.js';
import { regionKey, type RegionKey } from './keys.js';
import type { LoadTable } from './loads.js';
import { oneOfMany, type Fallback, type LoadRunner } from './load-runner.js';
import { resolveLoadOptions, type LoadOptions, type RegionBulkLoader, type RegionLoader, type ResolvedRegionOptions } from './options.js';
import type { RegionCounter } from './stats.js';

/** What getMany needs of its region (region.ts keeps the cache itself private). */
export interface BulkRegion<T> {
  readonly id: string;
  readonly options: ResolvedRegionOptions<T>;
  readonly loads: LoadTable<T>;
  readonly runner: LoadRunner<T>;
  readonly counters: Record<RegionCounter, number>;
  /** A fresh hit, or undefined (counted as a hit or a miss); a late hit may start a refresh-ahead with this loader. */
  hit(
    key: RegionKey,
    loader: RegionLoader<T> | undefined,
    ttl: number | undefined,
    tags: readonly string[] | undefined,
  ): { value: T | undefined } | undefined;
  graced(key: RegionKey): Fallback<T>;
}

/**
 * Bulk read-through (Caffeine's getAll/loadAll). Hits answer from the cache; a key with a load in
 * flight joins it; the remaining misses go to one `loadMany` call, or through `load` one by one.
 * Every missed key gets its own Load in the table, so load identity works per key exactly as for
 * get(): an invalidation of key 7 while the batch runs discards 7's result and stores the others.
 */
export async function getMany<T>(
  r: BulkRegion<T>,
  keys: RegionKey[],
  loadMany: RegionBulkLoader<T> | undefined,
  options: LoadOptions | undefined,
): Promise<(T | undefined)[]> {
  if (!Array.isArray(keys)) throw new errors.InvalidInstructionError(`region('${r.id}') getMany: keys must be an array`);
  if (loadMany !== undefined && typeof loadMany !== 'function') {
    throw new errors.InvalidOptionError(`region('${r.id}') getOrLoadMany: loader must be a function (keys) => Map`);
  }
  const { ttl, tags } = resolveLoadOptions(r.id, options);
  const one = r.options.load ?? (loadMany ? oneOfMany(loadMany) : undefined);
  const ks = keys.map(regionKey);
  const answers: Promise<T | undefined>[] = new Array<Promise<T | undefined>>(ks.length);
  const waiting = new Map<RegionKey, number[]>();
  for (const [i, k] of ks.entries()) {
    const found = r.hit(k, one, ttl, tags);
    if (found) {
      answers[i] = Promise.resolve(found.value);
      continue;
    }
    const current = r.loads.get(k);
    if (current) answers[i] = current.promise;
    else if (r.runner.inBackoff(k) && r.graced(k)) {
      r.counters.servedFromGrace += 1;
      answers[i] = Promise.resolve(r.graced(k)!.value);
    } else waiting.set(k, [...(waiting.get(k) ?? []), i]);
  }
  if (waiting.size > 0) {
    const missed = [...waiting.keys()];
    let loads;
    if (loadMany) loads = r.runner.many(missed, loadMany, ttl, tags, (k) => r.graced(k));
    else if (one) loads = missed.map((k) => r.runner.one(k, one, ttl, tags, r.graced(k), 'read'));
    else
      throw new errors.InvalidOptionError(
        `region('${r.id}') has neither load nor loadMany; pass one, or use getOrLoadMany(keys, loadMany)`,
      );
    for (const load of loads) for (const i of waiting.get(load.key)!) answers[i] = load.promise;
  }
  const values = await Promise.all(answers);
  return r.options.clone ? values.map((v) => (v === undefined ? v : structuredClone(v))) : values;
}
