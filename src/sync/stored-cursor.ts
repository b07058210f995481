import type { InstructionStore } from '../store/store.js';

/** A cursor save handed to the heartbeat (see StoredCursor.forHeartbeat). */
export interface HeartbeatCursorSave {
  /** The position to store. */
  position: string;
  /**
   * The position this process last stored: the heartbeat's update is conditional on it, so a
   * cold boot or a direct save that wrote the row since is never overwritten with an older position.
   */
  previous: string;
}

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
  /** The position applied last, and the one this process knows is stored (undefined until it stored one). */
  private latest: string | undefined;
  private lastStored: string | undefined;
  /** A heartbeat save found the row moved: the next poll stores the cursor itself. */
  private directWanted = false;

  constructor(
    private readonly store: InstructionStore,
    private readonly identity: string,
    private readonly syncInterval: number,
    /** Throws once the cache was stopped, so no query is sent after stop() resolved. */
    private readonly open: () => void,
    /**
     * Whether an idle server rewrites its unchanged cursor every few intervals (for `last_synced`).
     * Off in a cache (parts.ts): the heartbeat shows the server alive, and an idle fleet then costs
     * the primary its heartbeats only.
     */
    private readonly idleSaves = true,
    /**
     * On in a cache (parts.ts): a busy cursor is not written by the poll but by the next heartbeat, in the
     * heartbeat's own transaction (forHeartbeat), so a busy fleet costs the primary no transaction
     * beyond its heartbeats. A sync() caller's save and stop()'s still happen at once.
     */
    private readonly inHeartbeat = false,
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
   * rows again, which at-least-once allows. stop() stores it one last time (flush). With
   * `inHeartbeat`, a busy cursor waits for the heartbeat instead, unless this process has not
   * stored one yet (the heartbeat's update needs the stored position) or a heartbeat's save missed.
   */
  async save(position: string, read: boolean, saveWanted: number): Promise<void> {
    this.latest = position;
    if (read) this.dirty = true;
    const sinceSaved = Date.now() - this.lastSaved;
    const requested = saveWanted > this.saveRequestsServed;
    const busyDue = this.inHeartbeat ? this.lastStored === undefined || this.directWanted : sinceSaved >= this.syncInterval;
    const due = this.dirty ? requested || busyDue : this.idleSaves && sinceSaved > Math.max(10_000, this.syncInterval * 10);
    if (!due) {
      // Nothing moved: what a sync() caller asked for is already stored.
      if (!this.dirty) this.saveRequestsServed = Math.max(this.saveRequestsServed, saveWanted);
      return;
    }
    this.open();
    await this.store.saveCursor(this.identity, position);
    this.stored(saveWanted, position);
  }

  /** The stored cursor now holds `position`, as of a poll that began after `saveWanted` requests. */
  stored(saveWanted: number, position: string): void {
    this.lastSaved = Date.now();
    this.dirty = false;
    this.directWanted = false;
    this.lastStored = position;
    this.latest = position;
    this.saveRequestsServed = Math.max(this.saveRequestsServed, saveWanted);
  }

  /** The poll loaded `position` from the stored cursor: what a heartbeat's update expects to find. */
  loaded(position: string): void {
    this.lastStored = position;
    this.latest = position;
  }

  /** The save the next heartbeat carries, if one is due (only with `inHeartbeat`). */
  forHeartbeat(): HeartbeatCursorSave | undefined {
    if (!this.inHeartbeat || !this.dirty || this.directWanted) return undefined;
    if (this.latest === undefined || this.lastStored === undefined || this.latest === this.lastStored) return undefined;
    return { position: this.latest, previous: this.lastStored };
  }

  /**
   * After the heartbeat's transaction: `written` says whether the conditional update found the row
   * at `previous`. When another save ran meanwhile (a sync() caller's), its position stands.
   */
  heartbeatSaved(save: HeartbeatCursorSave, written: boolean): void {
    if (!written) {
      this.directWanted = true;
      return;
    }
    if (this.lastStored !== save.previous) return;
    this.lastStored = save.position;
    this.lastSaved = Date.now();
    this.dirty = this.latest !== save.position;
  }

  /** Stores `position` if it moved since the cursor was last stored; for stop(). */
  async flush(position: string | undefined): Promise<void> {
    if (!this.dirty || position === undefined) return;
    await this.store.saveCursor(this.identity, position);
    this.stored(this.saveRequestsServed, position);
  }
}
