import type { DistcacheEvents } from '../events.js';
import { instructionWeight, totalWeight, type Instruction } from '../instructions/types.js';

/** The newest row id of a write, or undefined when the call was gathered into a batch (nothing written yet). */
export type WrittenRow = number | undefined;

/** What a call inside `batch()` returns: the instruction is gathered, nothing is left to wait for. */
export const GATHERED: Promise<WrittenRow> = Promise.resolve(undefined);

/** Whether a write's promise is the shared one of a call gathered into a batch (so no per-call promise needs to follow it). */
export function isGathered(written: Promise<WrittenRow>): boolean {
  return written === GATHERED;
}

/** The `instruction:written` payload. */
export function written(
  rowIds: number[],
  coalesced: Instruction[],
  inTransaction: boolean,
  durationMs: number,
): DistcacheEvents['instruction:written'] {
  const byRefresher: Record<string, number> = {};
  for (const instruction of coalesced)
    byRefresher[instruction.refresher] = (byRefresher[instruction.refresher] ?? 0) + instructionWeight(instruction);
  return { rowIds, instructions: totalWeight(coalesced), byRefresher, inTransaction, durationMs };
}
