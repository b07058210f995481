import { instructionWeight, type Instruction } from './types.js';

/**
 * Cuts an (already coalesced) list into rows of at most `max` instructions, counted by weight
 * (`maxInstructionsPerRow`, its default declared once in options.ts).
 * A refresh of 2,500 ids becomes rows of 1,000, 1,000 and 500. Order is kept across rows.
 */
export function packRows(instructions: readonly Instruction[], max: number): Instruction[][] {
  const rows: Instruction[][] = [];
  let current: Instruction[] = [];
  let weight = 0;
  const push = (instruction: Instruction) => {
    const w = instructionWeight(instruction);
    if (weight + w > max && current.length > 0) {
      rows.push(current);
      current = [];
      weight = 0;
    }
    current.push(instruction);
    weight += w;
  };
  for (const instruction of instructions) {
    if (instruction.kind === 'refresh-all') {
      push(instruction);
      continue;
    }
    const items = instruction.kind === 'payload' ? instruction.payloads : instruction.ids;
    // Split only what does not fit; a split keeps the items' order.
    let offset = 0;
    while (offset < items.length) {
      if (weight >= max) {
        rows.push(current);
        current = [];
        weight = 0;
      }
      const room = max - weight;
      const part = items.slice(offset, offset + room);
      offset += part.length;
      if (instruction.kind === 'payload') push({ ...instruction, payloads: part as typeof instruction.payloads });
      else push({ ...instruction, ids: part as typeof instruction.ids });
    }
  }
  if (current.length > 0) rows.push(current);
  return rows;
}
