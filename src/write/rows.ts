import { errors } from '../errors.js';
import { coalesce } from '../instructions/coalesce.js';
import { decodeRow, encodeInstructions } from '../instructions/codec.js';
import { packRows } from '../instructions/pack.js';
import { totalWeight, type Instruction } from '../instructions/types.js';
import type { NewInstructionRow } from '../store/store.js';

/** Who a row comes from: `originated` is its label, `originInstance` the writing cache (null: none, so every server applies it). */
export interface RowOrigin {
  originated: string;
  originInstance: string | null;
  maxInstructionsPerRow: number;
}

export interface BuiltRows {
  rows: NewInstructionRow[];
  coalesced: Instruction[];
  /** The instructions as every reader decodes them: what the writer applies locally, value for value. */
  decoded: Instruction[];
}

/**
 * The rows that carry `instructions`: coalesced, packed into rows of at most
 * `maxInstructionsPerRow` instructions each, encoded, and then decoded with the readers' own code.
 * A row a reader would refuse is refused here (E_INVALID_INSTRUCTION), before anything is written
 * or applied. The one way rows are built, for a server's Writer and for an operator's `send`, so
 * both write only what every reader decodes (-0 arrives as 0 on the writer as well).
 */
export function instructionRows(instructions: Instruction[], origin: RowOrigin): BuiltRows {
  const coalesced = coalesce(instructions);
  const rows: NewInstructionRow[] = [];
  const decoded: Instruction[] = [];
  for (const row of packRows(coalesced, origin.maxInstructionsPerRow)) {
    const json = encodeInstructions(row);
    const read = decodeRow(json);
    const reason = !read.readable ? read.reason : read.bad[0]?.reason;
    if (!read.readable || reason !== undefined) {
      const message = `every server would refuse this write, so nothing was written or applied: ${reason}; check the ids and payloads`;
      throw new errors.InvalidInstructionError(message);
    }
    for (const instruction of read.instructions) decoded.push(instruction);
    rows.push({ json, originated: origin.originated, originInstance: origin.originInstance, instructionCount: totalWeight(row) });
  }
  return { rows, coalesced, decoded };
}
