import { AsyncLocalStorage } from 'node:async_hooks';
import type { CacheId, Instruction } from '../instructions/types.js';

/** The instructions gathered by one `batch()` call, written as one row when it resolves. */
export interface OpenBatch {
  readonly instructions: Instruction[];
  /**
   * The last gathered instruction, when its ids array is the batch's own copy (never a caller's
   * array) and later ids may be appended to it.
   */
  tail?: { refresher: string; kind: 'refresh' | 'remove'; ids: CacheId[] } | undefined;
  /**
   * Set once the batch has been handed to the writer. Async work started inside the batch can
   * outlive it (a handler awaiting something after the response): its calls are then written on
   * their own instead of joining a batch that is already gone.
   */
  closed: boolean;
}

/**
 * The batches open in the current async context, one per writer (a process may run several
 * caches), innermost first. AsyncLocalStorage carries them through awaits, so helpers deep inside
 * a request need not pass a handle around. A chain rather than a Map: every `refresh()` inside a
 * batch looks its batch up, and with one cache that is one comparison.
 */
interface BatchScope {
  readonly owner: object;
  readonly open: OpenBatch;
  readonly outer: BatchScope | undefined;
}

const batchContext = new AsyncLocalStorage<BatchScope>();

export function openBatchOf(owner: object): OpenBatch | undefined {
  let scope = batchContext.getStore();
  while (scope !== undefined && scope.owner !== owner) scope = scope.outer;
  return scope !== undefined && !scope.open.closed ? scope.open : undefined;
}

/**
 * Runs `work` with a batch of `owner` open and returns what it gathered, to be written as one row;
 * undefined when a batch of `owner` was already open here: a nested batch joins it (one row per
 * outermost batch), and that one writes the row. Rejects, gathering nothing, when `work` rejects.
 */
export async function gatherBatch(owner: object, work: () => unknown): Promise<Instruction[] | undefined> {
  if (openBatchOf(owner)) {
    await work();
    return undefined;
  }
  const open: OpenBatch = { instructions: [], closed: false };
  try {
    await batchContext.run({ owner, open, outer: batchContext.getStore() }, async () => work());
  } finally {
    open.closed = true;
  }
  return open.instructions;
}

/**
 * Adds one instruction to an open batch. A run of refreshes (or removes) of one refresher joins
 * the instruction before it: "refresh [1]" then "refresh [2]" means "refresh [1, 2]", which is
 * what coalescing would make of them anyway. A batch of 1,000 `refresh(id)` calls then holds one
 * instruction of 1,000 ids instead of 1,000 objects for the writer to coalesce.
 */
export function gather(open: OpenBatch, instruction: Instruction): void {
  if (instruction.kind === 'refresh' || instruction.kind === 'remove') {
    gatherIds(open, instruction.refresher, instruction.kind, instruction.ids);
    return;
  }
  open.instructions.push(instruction);
  open.tail = undefined;
}

/** Whether ids for this refresher and kind would join the batch's last instruction. */
export function continuesRun(open: OpenBatch, refresher: string, kind: 'refresh' | 'remove'): boolean {
  return open.tail !== undefined && open.tail.kind === kind && open.tail.refresher === refresher;
}

/** `gather` for ids, without an instruction object: the path of a `refresh(name, id)` call. */
export function gatherIds(open: OpenBatch, refresher: string, kind: 'refresh' | 'remove', ids: CacheId | readonly CacheId[]): void {
  let tail = open.tail;
  if (!tail || !continuesRun(open, refresher, kind)) {
    tail = { refresher, kind, ids: [] };
    open.instructions.push(tail);
    open.tail = tail;
  }
  // Appended one by one: the ids array may be the caller's, which must never be kept or touched.
  if (typeof ids === 'object') for (const id of ids) tail.ids.push(id);
  else tail.ids.push(ids);
}
