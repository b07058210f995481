/** One id a refresher understands. Numbers and strings are distinct: 42 is not '42'. */
export type CacheId = number | string;

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type InstructionKind = 'refresh-all' | 'refresh' | 'remove' | 'payload';

export const INSTRUCTION_KINDS: readonly InstructionKind[] = ['refresh-all', 'refresh', 'remove', 'payload'];

/** One cache instruction, addressed to one refresher. See docs/format.md. */
export type Instruction =
  | { refresher: string; kind: 'refresh-all' }
  | { refresher: string; kind: 'refresh'; ids: CacheId[] }
  | { refresher: string; kind: 'remove'; ids: CacheId[] }
  | { refresher: string; kind: 'payload'; payloads: JsonValue[] };

/**
 * How many instructions one instruction counts for, the way Umbraco counts them: one per id,
 * one per payload value, one for a refresh-all. The cold-boot threshold sums these.
 */
export function instructionWeight(instruction: Instruction): number {
  switch (instruction.kind) {
    case 'refresh-all':
      return 1;
    case 'refresh':
    case 'remove':
      return instruction.ids.length;
    case 'payload':
      return instruction.payloads.length;
  }
}

export function totalWeight(instructions: readonly Instruction[]): number {
  let total = 0;
  for (const instruction of instructions) total += instructionWeight(instruction);
  return total;
}
