import type { TestContext } from 'node:test';
import { harness, type Harness } from '../conformance/harness.js';
import type { DistributedCache, DistributedCacheOptions } from '../../src/index.js';

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A loader whose every call waits until the test settles it by hand, so a test orders loads and
 * invalidations exactly as it wants.
 */
export class ManualLoader<T> {
  readonly calls: { key: unknown; done: Deferred<T | undefined> }[] = [];

  readonly load = (key: unknown): Promise<T | undefined> => {
    const done = deferred<T | undefined>();
    this.calls.push({ key, done });
    return done.promise;
  };

  /** Settles call number `index` (0-based) and lets the region's continuation run. */
  async resolve(index: number, value: T | undefined): Promise<void> {
    this.calls[index]!.done.resolve(value);
    await settle();
  }

  async reject(index: number, error: Error): Promise<void> {
    this.calls[index]!.done.reject(error);
    await settle();
  }
}

/** Lets every queued promise continuation run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A clock the test moves by hand, with timers (a region's timeout and hardTimeout) that fire as it moves. */
export class ManualClock {
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private nextTimer = 1;
  constructor(public ms = 1_000_000) {}
  now = (): number => this.ms;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.nextTimer++;
    this.timers.set(id, { at: this.ms + ms, fn });
    return id;
  };
  clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };
  /** Moves time on, firing every timer now due in the order they fall due. */
  advance(ms: number): void {
    this.ms += ms;
    const due = [...this.timers].filter(([, t]) => t.at <= this.ms).sort((a, b) => a[1].at - b[1].at);
    for (const [id, t] of due) {
      if (!this.timers.delete(id)) continue;
      t.fn();
    }
  }
  get pendingTimers(): number {
    return this.timers.size;
  }
}

/** A bulk loader whose every call waits until the test settles it with a map. */
export class ManualBulkLoader<T> {
  readonly calls: { keys: unknown[]; signal: AbortSignal; done: Deferred<Map<unknown, T>> }[] = [];

  readonly loadMany = (keys: unknown[], ctx: { signal: AbortSignal }): Promise<Map<unknown, T>> => {
    const done = deferred<Map<unknown, T>>();
    this.calls.push({ keys, signal: ctx.signal, done });
    return done.promise;
  };

  async resolve(index: number, entries: [unknown, T][]): Promise<void> {
    this.calls[index]!.done.resolve(new Map(entries));
    await settle();
  }

  async reject(index: number, error: Error): Promise<void> {
    this.calls[index]!.done.reject(error);
    await settle();
  }
}

/** A migrated SQLite database and a started cache on it; `other()` adds a second server on the same file. */
export async function startedCache(
  t: TestContext,
  define: (cache: DistributedCache) => void,
  options: Partial<DistributedCacheOptions> = {},
): Promise<{ h: Harness; cache: DistributedCache }> {
  const h = await harness(t, 'sqlite');
  const cache = h.cache({ serverIdentity: 'web-1', ...options });
  define(cache);
  await cache.start();
  return { h, cache };
}
