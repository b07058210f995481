import type { BatchingCache } from './held-batch.js';

export interface JobBatchOptions {
  /**
   * Write nothing when the work throws (what `cache.batch()` does on its own). Leave it off when
   * the work may have changed data before throwing: an extra refresh costs little, a missed one
   * leaves caches stale.
   * @default false
   */
  discardOnError?: boolean;
}

/**
 * Runs one unit of work (a job, a queue message, a script step) with a batch open: every cache call
 * it makes is written as one row when it finishes, and applied on this server before the promise
 * settles. When the work throws, the row is still written unless `discardOnError`, and the work's
 * error is rethrown. When the work succeeds but the row cannot be written, the write error
 * (E_WRITE_FAILED) is thrown, so a queue redelivers the message.
 *
 * @example
 * import { withBatch } from 'distcache/jobs';
 * await withBatch(cache, async () => {
 *   for (const row of priceFile) {
 *     await db.updatePrice(row.id, row.price);
 *     await cache.refresh('product', row.id);
 *   }
 * }); // one row for the whole file
 */
export async function withBatch<T>(cache: BatchingCache, work: () => T | Promise<T>, options: JobBatchOptions = {}): Promise<T> {
  // batch() resolves to the row's position token, not to the work's result: keep that here.
  let value: T | undefined;
  if (options.discardOnError) {
    await cache.batch(async () => {
      value = await work();
    });
    return value as T;
  }
  let failure: { error: unknown } | undefined;
  try {
    await cache.batch(async () => {
      try {
        value = await work();
      } catch (error) {
        // Resolve the batch anyway, so what the work sent before failing is still written.
        failure = { error };
      }
    });
  } catch (writeError) {
    // Both failed: the work's error says more; the write failure was logged and emitted (write:error).
    throw failure ? failure.error : writeError;
  }
  if (failure) throw failure.error;
  return value as T;
}

/**
 * Wraps a handler so that each call runs in its own batch (see `withBatch`): one row per job or
 * message, whatever the handler calls on the cache.
 *
 * @example
 * import { batched } from 'distcache/jobs';
 * queue.process('import-prices', batched(cache, async (job: { data: unknown }) => {
 *   await importPrices(job.data); // refreshes many products; written as one row
 * }));
 */
export function batched<A extends unknown[], R>(
  cache: BatchingCache,
  handler: (...args: A) => R | Promise<R>,
  options: JobBatchOptions = {},
): (...args: A) => Promise<R> {
  return function batchedHandler(this: unknown, ...args: A) {
    return withBatch(cache, () => handler.apply(this, args), options);
  };
}
