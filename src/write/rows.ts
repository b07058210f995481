import { coalesce } from '../instructions/coalesce.js';
import { encodeInstructions } from '../instructions/codec.js';
import { packRows } from '../instructions/pack.js';
import { totalWeight, type Instruction } from '../instructions/types.js';
import type { NewInstructionRow } from '../store/store.js';

/** Who a row comes from: `originated` is its label, `originInstance` the writing cache (null: none, so every server applies it). */
export interface RowOrigin {
  originated: string;
  originInstance: string | null;
  maxInstructionsPerRow: number;
}

/**
 * The rows that carry `instructions`: coalesced, packed into rows of at most
 * `maxInstructionsPerRow` instructions each, and encoded. The one way rows are built, for a
 * server's Writer and for an operator's `send`, so both write what every reader decodes.
 */
export function instructionRows(instructions: Instruction[], origin: RowOrigin): { rows: NewInstructionRow[]; coalesced: Instruction[] } {
  const coalesced = coalesce(instructions);
  const rows = packRows(coalesced, origin.maxInstructionsPerRow).map((row) => ({
    json: encodeInstructions(row),
    originated: origin.originated,
    originInstance: origin.originInstance,
    instructionCount: totalWeight(row),
  }));
  return { rows, coalesced };
}
