import type { Instruction } from '../instructions/types.js';

/** A bounded, human-readable description of an instruction for the failure table. */
export function summarize(instruction: Instruction, rowIds: number[]): string {
  const rows = rowIds.length ? ` rows ${rowIds.slice(0, 20).join(',')}${rowIds.length > 20 ? ',…' : ''}` : '';
  switch (instruction.kind) {
    case 'refresh-all':
      return `refresh-all${rows}`;
    case 'refresh':
    case 'remove':
      return (
        `${instruction.kind} ` +
        `ids ${JSON.stringify(instruction.ids.slice(0, 50)).slice(0, 500)}` +
        `${instruction.ids.length > 50 ? ` (+${instruction.ids.length - 50} more)` : ''}${rows}`
      );
    case 'payload':
      return `payload x${instruction.payloads.length} ${JSON.stringify(instruction.payloads).slice(0, 500)}${rows}`;
  }
}
