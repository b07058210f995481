import type { Logger } from '../logger.js';
import { LeaseTable, type LeaseClaimant } from './lease-table.js';

/**
 * Of the lease duration, the part a holder gives up at the end: it stops acting as publisher
 * this long before the lease can expire in the database. It absorbs local clock drift against the
 * database clock and a timer that fires late; drift is parts per million, so a fifth is generous.
 */
const SAFETY_FRACTION = 0.2;

/**
 * This server's side of the scheduling-publisher lease. The database decides who holds it
 * (LeaseTable); this class decides how long this process may *believe* it holds it.
 *
 * The belief ends at (when the last successful renewal was sent + duration − safety margin), by
 * the local clock. The database expiry is (renewal executed + duration) by the database clock,
 * which is later, so a holder whose renewals fail steps down before anyone can take over: there
 * is never a moment with two publishers. Two local clocks are checked: the monotonic one, which
 * wall-clock adjustments cannot move back, and the wall clock, which keeps running while the
 * machine is suspended (the monotonic one on Linux does not).
 */
export class Lease {
  private token: number | null = null;
  private monotonicDeadline = 0;
  private wallDeadline = 0;

  constructor(
    private readonly table: LeaseTable,
    private readonly me: LeaseClaimant,
    private readonly durationMs: number,
    private readonly logger: Logger,
  ) {}

  /** Whether this process may act as the holder right now. */
  get held(): boolean {
    return this.token !== null && performance.now() < this.monotonicDeadline && Date.now() < this.wallDeadline;
  }

  /** Milliseconds until the belief ends; 0 when not held. */
  remainingMs(): number {
    if (!this.held) return 0;
    return Math.max(0, Math.min(this.monotonicDeadline - performance.now(), this.wallDeadline - Date.now()));
  }

  /**
   * Renews the lease when this instance holds it, else takes it when it is free or expired (or
   * always, with `force`, for a fixed publisher role). Returns whether it is held now.
   * One statement in the steady state: the holder renews blindly, the others read.
   */
  async maintain(force: boolean): Promise<boolean> {
    if (this.token !== null) {
      if (await this.attempt(this.token, () => this.table.renew(this.me, this.token!, this.durationMs))) return true;
      this.logger.warn({}, 'the scheduling-publisher lease passed to another server before it could be renewed');
      this.forget();
    }
    // Only looking (not holding, not forcing): a replica's copy will do when there is one. A stale
    // copy costs nothing: every take is a compare-and-set on the primary, refused if the token moved.
    const seen = force ? await this.table.read() : await this.table.readNearby();
    const next = seen.token + 1;
    if (seen.holderInstance === this.me.instanceId) {
      // Held in the database though no longer believed here (renewals had failed): renew it.
      return this.attempt(seen.token, () => this.table.renew(this.me, seen.token, this.durationMs));
    }
    if (force) {
      if (!LeaseTable.looksExpired(seen)) {
        this.logger.warn(
          { holder: seen.holderIdentity },
          'this server has a fixed publisher role; taking the scheduling-publisher lease from another server',
        );
      }
      return this.attempt(next, () => this.table.take(this.me, seen, this.durationMs, 'force'));
    }
    if (seen.holderInstance === null) return this.attempt(next, () => this.table.take(this.me, seen, this.durationMs, 'free'));
    if (LeaseTable.looksExpired(seen)) return this.attempt(next, () => this.table.take(this.me, seen, this.durationMs, 'expired'));
    return false;
  }

  /** Runs one conditional statement; on success, holds `token` until the deadline counted from before it was sent. */
  private async attempt(token: number, statement: () => Promise<boolean>): Promise<boolean> {
    // Taken before the statement is sent: the database's renewal time can only be later.
    const sentMonotonic = performance.now();
    const sentWall = Date.now();
    if (!(await statement())) return false;
    this.token = token;
    const usable = this.durationMs * (1 - SAFETY_FRACTION);
    this.monotonicDeadline = sentMonotonic + usable;
    this.wallDeadline = sentWall + usable;
    return this.held;
  }

  /** Stops believing at once (stop() calls this before anything else). */
  forget(): void {
    this.token = null;
    this.monotonicDeadline = 0;
    this.wallDeadline = 0;
  }

  /** Gives the lease up in the database, whether or not this process still believes it holds it. */
  async release(): Promise<void> {
    this.forget();
    await this.table.release(this.me);
  }
}
