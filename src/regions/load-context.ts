import { parseDuration, type Duration } from '../duration.js';
import { errors } from '../errors.js';
import { checkTags } from './options.js';

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

/** The decisions a loader made through its context. */
export class LoadDecisions implements LoadContext {
  ttlMs: number | undefined;
  lateTags: string[] | undefined;
  skipped = false;

  constructor(
    private readonly region: string,
    readonly signal: AbortSignal,
  ) {}

  ttl(ttl: Duration): LoadContext {
    const parsed = parseDuration(ttl);
    if (parsed === undefined || parsed === 0) {
      throw new errors.InvalidOptionError(`region('${this.region}') ctx.ttl: ${JSON.stringify(ttl)} is not a positive duration`);
    }
    this.ttlMs = parsed;
    return this;
  }

  tags(tags: string[]): LoadContext {
    this.lateTags = [...(this.lateTags ?? []), ...checkTags(this.region, 'ctx.tags', tags)];
    return this;
  }

  skip(): LoadContext {
    this.skipped = true;
    return this;
  }
}
