import type { DistributedCache } from '../cache.js';

/** What the integrations need of a cache: `batch()`, and its logger for write failures. */
export type BatchingCache = Pick<DistributedCache, 'batch'> & {
  readonly options?: { readonly logger?: { error(obj: object, msg?: string): void } };
};

/** Rejects the held work so that `batch()` writes nothing; never escapes this module. */
const DISCARD = Symbol('distcache.discard');

/**
 * A `cache.batch()` held open across callbacks, for code that has no single function to wrap: an
 * HTTP request starts in one callback and ends in another. `open(enter)` runs `enter` inside the
 * batch, so every cache call made from there (through awaits and callbacks) joins it. `close()`
 * ends it: the row is written and applied locally, or nothing is written when `discard` is true.
 */
export class HeldBatch {
  private release: ((discard: boolean) => void) | undefined;
  private written: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly cache: BatchingCache,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Opens the batch and runs `enter` inside it, synchronously. Call once. */
  open(enter: () => void): void {
    const held = new Promise<void>((resolve, reject) => {
      // A sentinel, not an Error: the catch below tells a discard from a real failure by identity.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      this.release = (discard) => (discard ? reject(DISCARD) : resolve());
    });
    this.written = this.cache
      .batch(() => {
        enter();
        return held;
      })
      .then(
        () => undefined,
        (err: unknown) => {
          if (err !== DISCARD) this.onError(err instanceof Error ? err : new Error(String(err)));
        },
      );
  }

  /**
   * Ends the batch. Resolves once its row is written and this server's refreshers ran (or at once
   * when nothing was gathered or `discard` is true). Never rejects: a failed write goes to
   * `onError`. Only the first call decides; later calls return the same promise.
   */
  close(discard: boolean): Promise<void> {
    if (!this.closing) {
      this.release?.(discard);
      this.closing = this.written ?? Promise.resolve();
    }
    return this.closing;
  }
}

/** The default `onError`: the cache's logger, as the request's caller is already gone. */
export function logWriteFailure(cache: BatchingCache, context: object): (error: Error) => void {
  return (error) => {
    const logger = cache.options?.logger;
    const entry = { ...context, err: error.message, code: (error as { code?: unknown }).code };
    if (logger) logger.error(entry, 'distcache: the cache instructions gathered in this batch could not be written');
    else console.error('[distcache] the cache instructions gathered in this batch could not be written', entry);
  };
}
