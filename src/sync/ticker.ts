import { describeError, fromDatabaseError } from '../errors.js';
import type { Logger } from '../logger.js';

export interface TickerSettings {
  /** Writes the tick (ReplicatedStore.tick). */
  tick: () => Promise<void>;
  /** Whether this server runs the once-per-cluster work (the elected publisher, or a single server). */
  elected: () => boolean;
  /** How often the elected server ticks for writers that do not tick themselves (plain SQL, the CLI). */
  intervalMs: number;
  logger: Logger;
  onError: (error: Error) => void;
}

/**
 * When the replicated tick is written (see ReplicatedStore): after each of this process's commits,
 * coalesced (one tick in flight, one waiting behind it, as NOTIFYs are), so a burst of writes
 * costs a few ticks and every commit is counted by a tick started after it; and once per interval
 * on the elected server, for rows written by plain SQL. A lost tick delays delivery until the
 * next, never loses a row: a replica reads only what a tick it has replayed counts as committed.
 */
export class Ticker {
  private inFlight: Promise<void> | undefined;
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Ticks written; for tests and the fleet benchmark. */
  ticks = 0;

  constructor(private readonly settings: TickerSettings) {}

  /** After a commit of this process: never waits, never throws. */
  afterCommit(): void {
    if (this.stopped) return;
    if (this.inFlight) {
      // The tick in flight may have taken its snapshot before this commit; one more follows it.
      this.pending = true;
      return;
    }
    this.inFlight = this.drain().finally(() => (this.inFlight = undefined));
  }

  private async drain(): Promise<void> {
    do {
      this.pending = false;
      try {
        await this.settings.tick();
        this.ticks += 1;
      } catch (err) {
        const error = fromDatabaseError(err);
        this.settings.logger.warn({ err: describeError(error) }, 'could not write the replica tick; replicas deliver at the next one');
        this.settings.onError(error);
        return;
      }
    } while (this.pending && !this.stopped);
  }

  start(): void {
    if (this.stopped || this.timer) return;
    this.timer = setInterval(() => {
      if (this.settings.elected()) this.afterCommit();
    }, this.settings.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }
}
