import { AsyncLocalStorage } from 'node:async_hooks';
import type { Instruction } from '../instructions/types.js';

/** The instructions gathered by one `batch()` call, written as one row when it resolves. */
export interface OpenBatch {
  readonly instructions: Instruction[];
  /**
   * Set once the batch has been handed to the writer. Async work started inside the batch can
   * outlive it (a handler awaiting something after the response): its calls are then written on
   * their own instead of joining a batch that is already gone.
   */
  closed: boolean;
}

/**
 * The batches open in the current async context, one per writer (a process may run several
 * caches). AsyncLocalStorage carries them through awaits, so helpers deep inside a request need
 * not pass a handle around.
 */
export const batchContext = new AsyncLocalStorage<ReadonlyMap<object, OpenBatch>>();

export function openBatchOf(owner: object): OpenBatch | undefined {
  const open = batchContext.getStore()?.get(owner);
  return open && !open.closed ? open : undefined;
}

export function runInBatch<T>(owner: object, open: OpenBatch, work: () => T | Promise<T>): Promise<T> {
  const open_ = new Map(batchContext.getStore() ?? []);
  open_.set(owner, open);
  return batchContext.run(open_, async () => work());
}
