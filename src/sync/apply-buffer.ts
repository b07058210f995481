import { instructionWeight, type Instruction } from '../instructions/types.js';

/** Past this many buffered instructions (by weight) a catch-up applies what it has before reading on. */
export const MAX_BUFFERED_WEIGHT = 20_000;

/** Decoded instructions waiting to be applied, with the row each came from. */
export class ApplyBuffer {
  instructions: Instruction[] = [];
  rowIds: number[] = [];
  weight = 0;

  add(decoded: Instruction[], rowId: number): void {
    for (const instruction of decoded) {
      this.instructions.push(instruction);
      this.rowIds.push(rowId);
      this.weight += instructionWeight(instruction);
    }
  }

  take(): { instructions: Instruction[]; rowIds: number[] } {
    const taken = { instructions: this.instructions, rowIds: this.rowIds };
    this.instructions = [];
    this.rowIds = [];
    this.weight = 0;
    return taken;
  }
}
