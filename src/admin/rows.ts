import { describeError } from '../errors.js';
import { decodeInstructions } from '../instructions/codec.js';
import { instructionWeight, type CacheId, type Instruction, type InstructionKind, type JsonValue } from '../instructions/types.js';
import type { StoredInstructionRow } from '../store/store.js';

/** How many ids and payloads a summary keeps per instruction; `show` keeps everything. */
export const SUMMARY_IDS = 10;
export const SUMMARY_PAYLOADS = 3;

/** One instruction of a row, decoded. */
export interface InstructionView {
  refresher: string;
  kind: InstructionKind;
  /** Its weight: ids, payloads, or 1 for refresh-all (docs/format.md). */
  count: number;
  /** The ids of a refresh or remove (the first SUMMARY_IDS in a summary); null for other kinds. */
  ids: CacheId[] | null;
  /** The payloads of a payload instruction (the first SUMMARY_PAYLOADS in a summary); null for other kinds. */
  payloads: JsonValue[] | null;
  /** True when a summary left ids or payloads out; `count` says how many there are. */
  truncated: boolean;
}

/** One row of the log, decoded. Times are ISO-8601 UTC by the database clock. */
export interface RowView {
  id: number;
  at: string;
  originated: string;
  /** The DistributedCache instance that wrote it; null for the CLI and plain SQL writers. */
  originInstance: string | null;
  instructionCount: number;
  /** null when the row cannot be decoded, or was not read; `malformed` then says why. */
  instructions: InstructionView[] | null;
  malformed: string | null;
  /** Set when the row's body is over the read's byte limit: its size in bytes (its body was not read). */
  oversizeBytes?: number;
}

/** A row as `show` prints it: everything, plus the stored JSON text. */
export interface FullRowView extends RowView {
  json: string;
}

export function rowView(row: StoredInstructionRow, mode: 'summary' | 'full' = 'summary'): RowView {
  let instructions: InstructionView[] | null = null;
  let malformed: string | null = null;
  if (row.oversizeBytes !== undefined) malformed = overLimit(row.oversizeBytes);
  else
    try {
      instructions = decodeInstructions(row.json).map((i) => instructionView(i, mode));
    } catch (err) {
      malformed = describeError(err);
    }
  return {
    id: row.id,
    at: row.utcStamp.toISOString(),
    originated: row.originated,
    originInstance: row.originInstance,
    instructionCount: row.instructionCount,
    instructions,
    malformed,
    ...(row.oversizeBytes !== undefined ? { oversizeBytes: row.oversizeBytes } : {}),
  };
}

/** What the CLI shows instead of a body it did not read. */
export function overLimit(bytes: number): string {
  return `[${bytes} bytes, over the limit]`;
}

export function fullRowView(row: StoredInstructionRow): FullRowView {
  return { ...rowView(row, 'full'), json: row.oversizeBytes !== undefined ? overLimit(row.oversizeBytes) : row.json };
}

function instructionView(instruction: Instruction, mode: 'summary' | 'full'): InstructionView {
  const count = instructionWeight(instruction);
  const base = { refresher: instruction.refresher, kind: instruction.kind, count };
  switch (instruction.kind) {
    case 'refresh-all':
      return { ...base, ids: null, payloads: null, truncated: false };
    case 'refresh':
    case 'remove': {
      const ids = mode === 'full' ? instruction.ids : instruction.ids.slice(0, SUMMARY_IDS);
      return { ...base, ids, payloads: null, truncated: ids.length < instruction.ids.length };
    }
    case 'payload': {
      const payloads = mode === 'full' ? instruction.payloads : instruction.payloads.slice(0, SUMMARY_PAYLOADS);
      return { ...base, ids: null, payloads, truncated: payloads.length < instruction.payloads.length };
    }
  }
}
