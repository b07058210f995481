import { errors } from '../errors.js';
import { coalesce } from '../instructions/coalesce.js';
import { decodeRow, encodeInstructions } from '../instructions/codec.js';
import { packRows } from '../instructions/pack.js';
import { totalWeight, type Instruction } from '../instructions/types.js';
import type { NewInstructionRow } from '../store/store.js';
import { MAX_ROW_BYTES } from '../util/limits.js';

/** Who a row comes from: `originated` is its label, `originInstance` the writing cache (null: none, so every server applies it). */
export interface RowOrigin {
  originated: string;
  originInstance: string | null;
  maxInstructionsPerRow: number;
  /** The largest row's JSON in bytes (see the maxRowBytes option). @default MAX_ROW_BYTES (16 MiB) */
  maxRowBytes?: number;
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
  const maxBytes = origin.maxRowBytes ?? MAX_ROW_BYTES;
  for (const row of packRows(coalesced, origin.maxInstructionsPerRow).flatMap((packed) => fitBytes(packed, maxBytes))) {
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

/**
 * Cuts a packed row in halves until each one's JSON fits in `maxBytes`: every reader refuses a
 * larger row unread, and the table's CHECK refuses it on insert. A single id or payload that alone
 * is larger cannot be carried, and is refused before anything is written.
 */
function fitBytes(row: Instruction[], maxBytes: number): Instruction[][] {
  const json = encodeInstructions(row);
  // A UTF-8 byte is at least one UTF-16 unit and at most three per unit: skip the count when it cannot matter.
  if (json.length * 3 <= maxBytes || Buffer.byteLength(json) <= maxBytes) return [row];
  if (row.length > 1) {
    const half = Math.ceil(row.length / 2);
    return [...fitBytes(row.slice(0, half), maxBytes), ...fitBytes(row.slice(half), maxBytes)];
  }
  const only = row[0]!;
  const parts = only.kind === 'payload' ? only.payloads : only.kind === 'refresh-all' ? [] : only.ids;
  if (parts.length <= 1) {
    throw new errors.InvalidInstructionError(
      `one ${only.kind === 'payload' ? 'payload' : 'id'} of refresher '${only.refresher}' makes a row of ` +
        `${Buffer.byteLength(json)} bytes, over maxRowBytes (${maxBytes}); nothing was written or applied: send a smaller value, ` +
        'or a refresh of its id instead of its payload',
    );
  }
  const half = Math.ceil(parts.length / 2);
  const split = (list: unknown[]): Instruction =>
    only.kind === 'payload' ? { ...only, payloads: list as typeof only.payloads } : ({ ...only, ids: list } as Instruction);
  return [...fitBytes([split(parts.slice(0, half))], maxBytes), ...fitBytes([split(parts.slice(half))], maxBytes)];
}
