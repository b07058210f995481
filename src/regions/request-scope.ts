import { AsyncLocalStorage } from 'node:async_hooks';
import type { RegionKey } from './keys.js';

/**
 * One region's request cache inside one request: the values read there, bounded. `generation`
 * moves on every invalidation of the region applied on this server while the request runs, so a
 * read that began before one never fills the memo with what it found (the no-stale rule of
 * regions, inside a request).
 */
export class RequestMemo {
  readonly entries = new Map<RegionKey, unknown>();
  generation = 0;

  constructor(private readonly max: number) {}

  /** Keeps `value` unless an invalidation came since the read began, or the memo is full. */
  keep(key: RegionKey, value: unknown, generation: number): void {
    if (generation !== this.generation) return;
    if (this.entries.size >= this.max && !this.entries.has(key)) return;
    this.entries.set(key, value);
  }

  drop(keys: readonly RegionKey[] | 'all'): void {
    this.generation += 1;
    if (keys === 'all') this.entries.clear();
    else for (const key of keys) this.entries.delete(key);
  }
}

/**
 * What one request (or one `cache.runInRequest()`) holds: the request caches of the regions
 * created with `perRequest`, and the newest row its writes inserted (its position token). It is
 * closed when the request ends; a closed scope keeps nothing and its memos are emptied.
 */
export class RequestScope {
  /** The newest row id written inside this scope or a scope within it; 0: none. */
  lastRowId = 0;
  closed = false;
  private readonly memos = new Map<string, RequestMemo>();

  constructor(readonly parent: RequestScope | undefined) {}

  /** A write inside this scope inserted rows up to `rowId`; the scopes around it wrote it too. */
  wrote(rowId: number): void {
    if (rowId > this.lastRowId) this.lastRowId = rowId;
    this.parent?.wrote(rowId);
  }

  /** The region's memo in this request, made on first use; undefined once the request ended. */
  memo(region: string, max: number): RequestMemo | undefined {
    if (this.closed) return undefined;
    let memo = this.memos.get(region);
    if (!memo) this.memos.set(region, (memo = new RequestMemo(max)));
    return memo;
  }

  /** An invalidation applied on this server: it reaches this request's memo of the region. */
  invalidated(region: string, keys: readonly RegionKey[] | 'all'): void {
    this.memos.get(region)?.drop(keys);
  }

  close(): void {
    this.closed = true;
    this.memos.clear();
  }
}

/**
 * The request scopes of one DistributedCache, carried through AsyncLocalStorage: entered by the
 * express and fastify middleware and by `cache.runInRequest(fn)`, so everything a request awaits
 * sees its scope. The open ones are listed so that an invalidation reaches each of them.
 */
export class RequestScopes {
  private readonly storage = new AsyncLocalStorage<RequestScope>();
  private readonly open = new Set<RequestScope>();

  current(): RequestScope | undefined {
    return this.storage.getStore();
  }

  /** A new scope inside the current one (if any); enter it with run(), end it with close(). */
  openScope(): RequestScope {
    const scope = new RequestScope(this.current());
    this.open.add(scope);
    return scope;
  }

  run<T>(scope: RequestScope, fn: () => T): T {
    return this.storage.run(scope, fn);
  }

  close(scope: RequestScope): void {
    scope.close();
    this.open.delete(scope);
  }

  /**
   * A region invalidation applied on this server (keys, 'all', or by tags: the tagged keys are not
   * all known to a memo, so tags empty the region's memo).
   */
  invalidated(region: string, keys: readonly RegionKey[] | 'all', byTags: boolean): void {
    if (this.open.size === 0) return;
    for (const scope of this.open) scope.invalidated(region, byTags ? 'all' : keys);
  }

  get size(): number {
    return this.open.size;
  }
}
