import { parseDuration, type Duration } from '../duration.js';
import { errors } from '../errors.js';
import type { TypedEmitter, WaitOutcome } from '../events.js';
import type { InstructionStore } from '../store/store.js';
import type { Poller } from '../sync/poller.js';
import { withTimeout } from '../util/async.js';
import type { PositionTokens } from './position-token.js';

export interface WaitForOptions {
  /** Give up after this long and resolve false. @default '1s' */
  timeout?: Duration;
}

/**
 * Bucket bounds of the waitFor duration histograms (Prometheus and OpenTelemetry), in seconds:
 * from a token already applied (one primary-key read) to a wait that ran into a long timeout.
 */
export const WAIT_FOR_BUCKETS = Object.freeze([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);

/** waitFor's timeout, and the middleware's waitTimeout, unless given. */
export const DEFAULT_WAIT_TIMEOUT = 1000;

/** What one look at the database said: covered, not yet, no such row, or the look failed. */
type Seen = boolean | null | 'failed';

/**
 * cache.waitFor(): read-your-writes across servers. A token names the newest row a write
 * inserted; this server has applied past it once its applied position covers that row, as the
 * database orders commits (store.covers: PostgreSQL's snapshot visibility, MySQL's seq, SQLite's
 * id). A server that is behind polls at once (sharing the poll in flight, or the one after it, so
 * the poll sees every commit made before the call) and looks again.
 */
export class Positions {
  /** Aborted by stop(): every wait still running resolves false at once, and its timer goes with it. */
  private readonly stopped = new AbortController();

  constructor(
    private readonly store: InstructionStore,
    private readonly poller: Poller,
    private readonly events: TypedEmitter,
    readonly tokens: PositionTokens,
    /** Whether this server applies the log now (started, not stopping). */
    private readonly applying: () => boolean,
  ) {}

  async waitFor(token: string, options?: WaitForOptions): Promise<boolean> {
    const rowId = this.tokens.read(token);
    const timeout = options?.timeout === undefined ? DEFAULT_WAIT_TIMEOUT : parseDuration(options.timeout);
    if (timeout === undefined) {
      throw new errors.InvalidOptionError(
        `waitFor timeout: ${JSON.stringify(options?.timeout)} is not a duration; give milliseconds or a string such as '500ms'`,
      );
    }
    const started = performance.now();
    const outcome = rowId === 0 ? 'applied' : await this.wait(rowId, started + timeout);
    // For the metrics: how often requests find their write applied, wait for it, or give up.
    this.events.emitBuilt('position:waited', () => ({ outcome, durationMs: performance.now() - started }));
    return outcome === 'applied' || outcome === 'waited';
  }

  private async wait(rowId: number, deadline: number): Promise<WaitOutcome> {
    const left = () => deadline - performance.now();
    if (!this.applying()) return 'stopped';
    // The first look runs whatever the timeout (0: "only if already applied"); the store bounds it.
    if ((await this.seen(rowId, undefined)) === true) return 'applied';
    // Behind (or it cannot tell): poll now. A row committed but still not covered after a poll that
    // began after we looked means the poll read a replica that is behind; the next polls catch up.
    for (let polls = 0; left() > 0 && this.applying() && !this.stopped.signal.aborted;) {
      const polled = polls < 2 && (await this.poll(left()));
      if (polled) polls += 1;
      else await this.nextPoll(left());
      const seen = await this.seen(rowId, left());
      // No such row after a poll that began after the call: it never committed here (rolled back,
      // or a token of a database since restored), or it was pruned, and the poll took any cold
      // boot that pruning asked for. Nothing older than this server's caches can be waited for.
      if (seen === true || (seen === null && polls > 0)) return 'waited';
    }
    return this.applying() && !this.stopped.signal.aborted ? 'timed-out' : 'stopped';
  }

  /** Ends every wait at once (false). */
  stop(): void {
    this.stopped.abort();
  }

  /** Whether this server's applied position covers the row; `ms` bounds the look (undefined: the store's queryTimeout only). */
  private async seen(rowId: number, ms: number | undefined): Promise<Seen> {
    const position = this.poller.appliedPosition;
    if (position === undefined || (ms !== undefined && ms <= 0)) return false;
    try {
      if (ms === undefined) return await this.store.covers(position, rowId);
      return await withTimeout(
        () => this.store.covers(position, rowId),
        ms,
        () => new Error('waitFor: timed out'),
        this.stopped.signal,
      );
    } catch {
      return 'failed';
    }
  }

  /** One poll that began after this call; false when it failed or did not end in time. */
  private async poll(ms: number): Promise<boolean> {
    try {
      await withTimeout(
        () => this.poller.catchUp(),
        ms,
        () => new Error('waitFor: timed out'),
        this.stopped.signal,
      );
      return true;
    } catch {
      return false;
    }
  }

  /** Until the loop's next poll ends (it retries failures with backoff, and runs on every wake-up), at most `ms`. */
  private nextPoll(ms: number): Promise<void> {
    if (ms <= 0 || this.stopped.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.events.off('sync:complete', done);
        this.events.off('sync:error', done);
        this.stopped.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.events.on('sync:complete', done);
      this.events.on('sync:error', done);
      this.stopped.signal.addEventListener('abort', done, { once: true });
    });
  }
}
