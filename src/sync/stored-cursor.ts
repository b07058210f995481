import type { InstructionStore } from '../store/store.js';

/**
 * When the cursor is written. The Poller moves its position after every poll; writing it to the
 * database every time would cost a query per poll per server, so this decides when it is due.
 */
export class StoredCursor {
  /** When the stored cursor was last written; see save(). */
  private lastSaved = 0;
  /** The position moved since the cursor was last stored. */
  private dirty = false;
  /** Calls of the public sync(); a poll that starts after one stores the cursor at its end. */
  private saveRequests = 0;
  private saveRequestsServed = 0;

  constructor(
    private readonly store: InstructionStore,
    private readonly identity: string,
    private readonly syncInterval: number,
    /** Throws once the cache was stopped, so no query is sent after stop() resolved. */
    private readonly open: () => void,
    /**
     * Whether an idle server rewrites its unchanged cursor every few intervals (for `last_synced`).
     * Off with replicas: the heartbeat shows the server alive, and an idle fleet then costs the
     * primary its heartbeats only.
     */
    private readonly idleSaves = true,
  ) {}

  /** A public sync() call: the poll that starts after it stores the cursor at its end. */
  request(): void {
    this.saveRequests += 1;
  }

  /** The requests so far; a poll takes this when it starts and passes it as `saveWanted`. */
  get requests(): number {
    return this.saveRequests;
  }

  /**
   * Stores the cursor when due: at once for a poll that follows a public sync()
   * call; otherwise at most once per syncInterval while rows keep coming (a wake-up per commit
   * would otherwise cost every server a cursor write per commit, half the fleet's queries), and
   * every few intervals when idle, so `last_synced` shows the server alive. The stored cursor thus
   * trails the applied position by at most about one interval; a crash in between applies those
   * rows again, which at-least-once allows. stop() stores it one last time (flush).
   */
  async save(position: string, read: boolean, saveWanted: number): Promise<void> {
    if (read) this.dirty = true;
    const sinceSaved = Date.now() - this.lastSaved;
    const due = this.dirty
      ? saveWanted > this.saveRequestsServed || sinceSaved >= this.syncInterval
      : this.idleSaves && sinceSaved > Math.max(10_000, this.syncInterval * 10);
    if (!due) {
      // Nothing moved: what a sync() caller asked for is already stored.
      if (!this.dirty) this.saveRequestsServed = Math.max(this.saveRequestsServed, saveWanted);
      return;
    }
    this.open();
    await this.store.saveCursor(this.identity, position);
    this.stored(saveWanted);
  }

  /** The stored cursor now holds the position, as of a poll that began after `saveWanted` requests. */
  stored(saveWanted: number): void {
    this.lastSaved = Date.now();
    this.dirty = false;
    this.saveRequestsServed = Math.max(this.saveRequestsServed, saveWanted);
  }

  /** Stores `position` if it moved since the cursor was last stored; for stop(). */
  async flush(position: string | undefined): Promise<void> {
    if (!this.dirty || position === undefined) return;
    await this.store.saveCursor(this.identity, position);
    this.stored(this.saveRequestsServed);
  }
}
