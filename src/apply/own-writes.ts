/**
 * Rows this instance wrote and already applied locally, so its poller can skip exactly those.
 *
 * Skipping every row that carries this instance's id would be wrong: when a commit's
 * acknowledgement is lost (the connection drops after COMMIT), the write rejects and nothing is
 * applied locally, yet the row exists. That row must reach this server through its poller like
 * any other. A row the poller reads before its id is added here is applied twice, which
 * at-least-once allows; entries the poller never consumes expire.
 */
export class OwnWrites {
  private readonly ids = new Map<number, number>();

  constructor(private readonly maxAgeMs = 10 * 60_000) {}

  /** Called once the rows committed and their local apply is under way. */
  add(rowIds: readonly number[]): void {
    const now = Date.now();
    for (const id of rowIds) this.ids.set(id, now);
  }

  /** True (once) when `rowId` was written and applied here; the poller then skips it. */
  consume(rowId: number): boolean {
    return this.ids.delete(rowId);
  }

  /** Forgets ids the poller never read (rows it read before they were added). */
  expire(now = Date.now()): void {
    for (const [id, at] of this.ids) {
      if (now - at <= this.maxAgeMs) break; // insertion order is age order
      this.ids.delete(id);
    }
  }

  get size(): number {
    return this.ids.size;
  }
}
