import { describeError } from '../errors.js';
import type { TypedEmitter } from '../events.js';
import { decodeRow } from '../instructions/codec.js';
import type { Instruction } from '../instructions/types.js';
import type { Logger } from '../logger.js';
import type { RefresherRegistry } from '../refreshers/registry.js';
import type { NewFailure, StoredInstructionRow } from '../store/store.js';

/** What one row gives the poller: instructions to apply, and how many bad parts it recorded. */
export interface ReadRow {
  instructions: Instruction[];
  /** Bad parts: 1 for a row that could not be read at all, else one per bad instruction. */
  malformed: number;
  /** The failure records being written; the poller waits for them before reading on. */
  recording?: Promise<void>;
}

export interface RowReaderContext {
  identity: string;
  registry: RefresherRegistry;
  events: TypedEmitter;
  logger: Logger;
  record(failure: NewFailure): Promise<void>;
}

/**
 * Turns a stored row into instructions. Readers degrade per instruction, never per row: a bad
 * instruction costs only itself, and is replaced by a refresh-all of the refresher it names, so
 * that cache is not left stale. A row that cannot be read at all is replaced by a refresh-all of
 * every refresher it names, or of every refresher when it names none that can be read. The
 * refresh-alls go through the poll's coalescing like any instruction: many bad rows in one poll
 * make one refreshAll() per refresher. Each bad row or instruction is logged, emitted as
 * `instruction:malformed` and recorded once in cache_failure.
 */
export function readRow(row: StoredInstructionRow, ctx: RowReaderContext): ReadRow {
  const decoded = decodeRow(row.json);
  if (decoded.readable && decoded.bad.length === 0) return { instructions: decoded.instructions, malformed: 0 };
  const text = typeof row.json === 'string' ? row.json : String(row.json);
  if (!decoded.readable) {
    const targets = refreshAllTargets(decoded.refreshers, ctx.registry);
    return {
      instructions: targets.map((refresher) => ({ refresher, kind: 'refresh-all' })),
      malformed: 1,
      recording: report(ctx, row.id, null, null, decoded.reason, targets, text),
    };
  }
  // Each bad instruction's refresh-alls take its place in the row: what came before it is then
  // superseded (reloaded), what comes after it is applied as written.
  const instructions: Instruction[] = [];
  const recordings: Promise<void>[] = [];
  let next = 0;
  for (const bad of decoded.bad) {
    while (next < bad.before) instructions.push(decoded.instructions[next++]!);
    const targets = refreshAllTargets(bad.refresher === null ? null : [bad.refresher], ctx.registry);
    for (const refresher of targets) instructions.push({ refresher, kind: 'refresh-all' });
    recordings.push(report(ctx, row.id, bad.index, bad.refresher, bad.reason, targets, text));
  }
  while (next < decoded.instructions.length) instructions.push(decoded.instructions[next++]!);
  return { instructions, malformed: decoded.bad.length, recording: Promise.all(recordings).then(() => undefined) };
}

/** The registered refreshers among `named`, or every registered refresher when `named` is null. */
function refreshAllTargets(named: string[] | null, registry: RefresherRegistry): string[] {
  if (named === null) return registry.all().map((r) => r.id);
  return named.filter((id) => registry.get(id) !== undefined);
}

async function report(
  ctx: RowReaderContext,
  rowId: number,
  index: number | null,
  refresher: string | null,
  reason: string,
  refreshAll: string[],
  text: string,
): Promise<void> {
  const what = index === null ? 'row' : 'instruction';
  const message = `skipping a malformed cache instruction ${what}; refreshing what it may have concerned`;
  ctx.logger.warn({ rowId, index, refresher, reason, refreshAll }, message);
  ctx.events.emit('instruction:malformed', { rowId, index, refresher, reason, refreshAll });
  const named = `${refreshAll.slice(0, 20).join(', ')}${refreshAll.length > 20 ? ', …' : ''}`;
  const fallback = refreshAll.length > 0 ? `refreshAll() on ${named}` : 'no refresher of this server named';
  await ctx.record({
    identity: ctx.identity,
    instructionId: rowId,
    refresher,
    kind: null,
    action: index === null ? 'skipped-malformed-row' : 'skipped-malformed-instruction',
    error: describeError(reason),
    detail: `${index === null ? '' : `instructions[${index}]; `}${fallback}; row: ${text.slice(0, 300)}`,
  });
}
