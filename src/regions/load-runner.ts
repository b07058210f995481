import { LRUCache } from 'lru-cache';
import { errors } from '../errors.js';
import { regionKey, type RegionKey } from './keys.js';
import { LoadDecisions } from './load-context.js';
import type { Load, LoadTable } from './loads.js';
import type { RegionBulkLoader, RegionLoader, ResolvedRegionOptions } from './options.js';
import { LoadDurationHistogram, type RegionCounter } from './stats.js';
import type { DistcacheEvents } from '../events.js';

/** An entry in its grace period, kept as the answer for when a load fails or runs past `timeout`. */
export type Fallback<T> = { value: T | undefined } | undefined;

/** What the runner needs of its region. */
export interface RunnerRegion<T> {
  readonly id: string;
  readonly options: ResolvedRegionOptions<T>;
  readonly loads: LoadTable<T>;
  readonly counters: Record<RegionCounter, number>;
  readonly host: {
    emit<E extends 'region:load-error' | 'region:load-discarded' | 'region:load-finished'>(event: E, payload: DistcacheEvents[E]): void;
  };
  /** Stores a loaded value (or a not-found) for the key; the runner has checked it may. */
  store(key: RegionKey, value: T | undefined, ttl: number | undefined, tags: readonly string[] | undefined): void;
}

type Timers = { set(fn: () => void, ms: number): unknown; clear(handle: unknown): void };

/**
 * Runs loads: a read's, each key of a bulk load, a refresh-ahead in the background. Every one is
 * a Load in the region's table, and stores its value only while it is still the key's current
 * load, whenever it ends: after its callers got a graced entry at the soft timeout, or with
 * nobody waiting at all. A hard timeout takes it out of the table, so it can never store.
 */
export class LoadRunner<T> {
  readonly durations = new LoadDurationHistogram();
  private readonly timers: Timers;
  /** Keys whose last load failed, for `graceBackoff`: entries live that long. */
  private readonly failed: LRUCache<RegionKey, true> | undefined;

  constructor(private readonly r: RunnerRegion<T>) {
    const clock = r.options.clock;
    this.timers =
      clock?.setTimeout && clock.clearTimeout
        ? { set: (fn, ms) => clock.setTimeout!(fn, ms), clear: (h) => clock.clearTimeout!(h) }
        : { set: (fn, ms) => setTimeout(fn, ms).unref(), clear: (h) => clearTimeout(h as NodeJS.Timeout) };
    const backoff = r.options.graceBackoff;
    this.failed =
      backoff > 0
        ? new LRUCache<RegionKey, true>({ max: 10_000, ttl: backoff, ttlResolution: 0, ...(clock ? { perf: clock } : {}) })
        : undefined;
  }

  /** Whether a graced entry of this key is to be served without a load (`graceBackoff`). */
  inBackoff(key: RegionKey): boolean {
    return this.failed !== undefined && this.failed.has(key);
  }

  /** One key through `loader`. */
  one(
    key: RegionKey,
    loader: RegionLoader<T>,
    ttl: number | undefined,
    tags: readonly string[] | undefined,
    fallback: Fallback<T>,
    kind: 'read' | 'background',
  ): Load<T> {
    const load = this.open(key, tags, kind);
    const controller = new AbortController();
    const decisions = new LoadDecisions(this.r.id, controller.signal);
    this.r.counters.loads += 1;
    const started = performance.now();
    const source = (async () => loader(key, decisions))();
    source.then(
      () => this.finished(started, 1, false),
      () => this.finished(started, 1, true),
    );
    load.promise = this.answer(load, source, ttl, fallback, decisions, controller);
    return load;
  }

  /** Many keys through one `loadMany` call; each key is its own load, so an invalidation reaches one key only. */
  many(
    keys: RegionKey[],
    loadMany: RegionBulkLoader<T>,
    ttl: number | undefined,
    tags: readonly string[] | undefined,
    fallbackOf: (key: RegionKey) => Fallback<T>,
  ): Load<T>[] {
    const loads = keys.map((k) => this.open(k, tags, 'bulk'));
    const controller = new AbortController();
    const decisions = new LoadDecisions(this.r.id, controller.signal);
    this.r.counters.loads += 1;
    const started = performance.now();
    const batch = (async () => byKey(await loadMany([...keys], decisions)))();
    batch.then(
      () => this.finished(started, keys.length, false),
      () => this.finished(started, keys.length, true),
    );
    for (const load of loads) {
      const source = batch.then((found) => found.get(load.key));
      load.promise = this.answer(load, source, ttl, fallbackOf(load.key), decisions, controller);
    }
    return loads;
  }

  private open(key: RegionKey, tags: readonly string[] | undefined, kind: Load<T>['kind']): Load<T> {
    const load: Load<T> = {
      key,
      tags,
      kind,
      tagEpoch: this.r.loads.tagEpoch,
      softTimedOut: false,
      abandoned: false,
      promise: undefined as unknown as Promise<T | undefined>,
    };
    this.r.loads.add(load);
    return load;
  }

  /** A loader call ended: into the region's histogram, and out as an event for the OpenTelemetry one. */
  private finished(started: number, keys: number, failed: boolean): void {
    const durationMs = performance.now() - started;
    this.durations.observe(durationMs);
    this.r.host.emit('region:load-finished', { region: this.r.id, durationMs, keys, failed });
  }

  /** The callers' answer: the load's outcome, or earlier at `timeout` (a graced entry) or `hardTimeout`. */
  private answer(
    load: Load<T>,
    source: Promise<T | undefined>,
    ttl: number | undefined,
    fallback: Fallback<T>,
    decisions: LoadDecisions,
    controller: AbortController,
  ): Promise<T | undefined> {
    const outcome = source.then(
      (value) => this.finish(load, value, ttl, decisions),
      (err: unknown) => this.fail(load, err, fallback),
    );
    const { timeout, hardTimeout } = this.r.options;
    const soft = timeout > 0 && fallback !== undefined && load.kind !== 'background';
    if (!soft && hardTimeout === 0) return outcome;
    return new Promise<T | undefined>((resolve, reject) => {
      let softTimer: unknown;
      let hardTimer: unknown;
      const clear = () => {
        if (softTimer !== undefined) this.timers.clear(softTimer);
        if (hardTimer !== undefined) this.timers.clear(hardTimer);
        softTimer = hardTimer = undefined;
      };
      outcome.then(
        (value) => (clear(), resolve(value)),
        (err: unknown) => (clear(), reject(err)),
      );
      if (soft) {
        softTimer = this.timers.set(() => {
          softTimer = undefined;
          // Only a load nothing overtook may answer with the graced entry: an invalidated entry is never served.
          if (!this.r.loads.isCurrent(load)) return;
          load.softTimedOut = true;
          this.r.counters.softTimeouts += 1;
          this.r.counters.servedFromGrace += 1;
          resolve(fallback.value);
        }, timeout);
      }
      if (hardTimeout > 0) {
        hardTimer = this.timers.set(() => {
          hardTimer = undefined;
          clear();
          const current = this.r.loads.isCurrent(load);
          // Out of the table: the next read starts a new load, and this one can never store.
          this.r.loads.settle(load);
          load.abandoned = true;
          this.r.counters.hardTimeouts += 1;
          if (current) this.failed?.set(load.key, true);
          const error = new errors.LoadTimeoutError(
            `region('${this.r.id}') load of key ${String(load.key)} ran past hardTimeout ${hardTimeout} ms`,
          );
          controller.abort(error);
          if (current && fallback !== undefined) {
            this.r.counters.servedFromGrace += 1;
            resolve(fallback.value);
          } else reject(error);
        }, hardTimeout);
      }
    });
  }

  private finish(load: Load<T>, value: T | undefined, ttl: number | undefined, decisions: LoadDecisions): T | undefined {
    if (!this.r.loads.isCurrent(load)) {
      // Overtaken: the callers that joined it before the invalidation get this value; the cache does not.
      if (!load.abandoned) this.discarded(load);
      return value;
    }
    this.r.loads.settle(load);
    this.failed?.delete(load.key);
    if (decisions.skipped) return value;
    // Tags the loader gave late could not be reached by a refreshTags while it ran: any tag invalidation since it began discards it.
    if (decisions.lateTags?.length && this.r.loads.tagEpoch !== load.tagEpoch) {
      this.discarded(load);
      return value;
    }
    const tags = decisions.lateTags?.length ? [...(load.tags ?? []), ...decisions.lateTags] : load.tags;
    this.r.store(load.key, value, decisions.ttlMs ?? ttl, tags);
    return value;
  }

  private fail(load: Load<T>, err: unknown, fallback: Fallback<T>): T | undefined {
    if (load.abandoned) throw err;
    const current = this.r.loads.isCurrent(load);
    this.r.loads.settle(load);
    this.r.counters.loadErrors += 1;
    if (current) this.failed?.set(load.key, true);
    // Only a load nothing overtook may fall back: an invalidated entry is never served.
    const graceful = current && fallback !== undefined && load.kind !== 'background';
    if (graceful) this.r.counters.servedFromGrace += 1;
    const error = err instanceof Error ? err : new Error(String(err));
    this.r.host.emit('region:load-error', { region: this.r.id, key: load.key, error, servedFromGrace: graceful });
    if (graceful) return fallback.value;
    throw err;
  }

  private discarded(load: Load<T>): void {
    this.r.counters.loadsDiscarded += 1;
    this.r.host.emit('region:load-discarded', { region: this.r.id, key: load.key });
  }
}

/** A bulk loader's answer by key in its one form ('42' and 42 are one key). */
function byKey<T>(found: Map<RegionKey, T>): Map<RegionKey, T | undefined> {
  if (!(found instanceof Map)) throw new errors.InvalidInstructionError('loadMany must resolve to a Map of key → value');
  const out = new Map<RegionKey, T | undefined>();
  for (const [k, v] of found) out.set(regionKey(k), v);
  return out;
}

/** `load` built from `loadMany`, for a region that has only a bulk loader. */
export function oneOfMany<T>(loadMany: RegionBulkLoader<T>): RegionLoader<T> {
  return async (key, ctx) => byKey(await loadMany([key], ctx)).get(key);
}
