import { instructionWeight, type Instruction } from '../instructions/types.js';

/**
 * "Too far behind", per refresher and from what was decoded: never from `instruction_count`, which
 * any writer sets (a forged 2147483647 made every server refresh every cache; a forged 1 on a
 * 200,000-instruction row skipped the guard). Once one refresher's decoded backlog in a poll passes
 * `limit`, its instructions are dropped and one refreshAll() of that refresher takes their place at
 * every flush: a backlog too long for one refresher reloads that refresher, not every cache.
 */
export class BacklogGuard {
  private readonly weights = new Map<string, number>();
  /** Each refresher over the limit, with the row that took it over (for failure records). */
  private readonly over = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** What of `decoded` to buffer: everything but the instructions of refreshers already over the limit. */
  keep(decoded: Instruction[], rowId: number): Instruction[] {
    let dropped = false;
    for (const instruction of decoded) {
      const { refresher } = instruction;
      if (this.over.has(refresher)) {
        dropped = true;
        continue;
      }
      const weight = (this.weights.get(refresher) ?? 0) + instructionWeight(instruction);
      this.weights.set(refresher, weight);
      if (weight > this.limit) {
        this.over.set(refresher, rowId);
        dropped = true;
      }
    }
    return dropped ? decoded.filter((i) => !this.over.has(i.refresher)) : decoded;
  }

  /** A refreshAll() of each refresher over the limit, to apply with every flush (so a stored cursor never passes a dropped instruction). */
  refreshAlls(): Array<{ instruction: Instruction; rowId: number }> {
    return [...this.over].map(([refresher, rowId]) => ({ instruction: { refresher, kind: 'refresh-all' }, rowId }));
  }

  /** The refreshers over the limit so far. */
  get overLimit(): readonly string[] {
    return [...this.over.keys()];
  }
}
