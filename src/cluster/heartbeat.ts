import { describeError, fromDatabaseError } from '../errors.js';
import type { TypedEmitter } from '../events.js';
import type { Logger } from '../logger.js';

/**
 * Runs the heartbeat every `intervalMs`. An interval rather than a cron schedule: it must come
 * at a steady pace measured from the last beat (the lease renewal depends on it), not at wall-clock
 * minutes. The next beat is scheduled only when the previous one has finished, so a slow beat never
 * overlaps the next. Failures are logged, emitted and retried at the next interval; they never
 * throw out of the loop. The timer is unref'd, so it never keeps a process alive.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inFlight: Promise<Error | undefined> | undefined;
  private consecutiveFailures = 0;

  constructor(
    private readonly beat: () => Promise<void>,
    private readonly events: TypedEmitter,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  /** Beats once now, then keeps beating. Resolves with the first beat's error, if any, so start() can refuse a missing table. */
  async start(): Promise<Error | undefined> {
    if (this.running) return undefined;
    this.running = true;
    const started = performance.now();
    const error = await this.runOnce();
    this.schedule(started);
    return error;
  }

  /** Stops the loop and waits for a beat in flight, so nothing renews the lease after stop() gives it up. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private schedule(started = performance.now(), first = true): void {
    if (!this.running) return;
    // Paced start to start, so a fleet of N costs the primary N/interval beats a second, not more.
    // The first wait is up to 10% short, so servers started together (a deploy) spread over the
    // interval instead of beating in lockstep, and keep that spread. Never later than the
    // interval after the previous beat's start (the lease renewal relies on it), and never before
    // the previous beat has finished, so a slow beat does not overlap the next.
    const interval = first ? this.intervalMs * (0.9 + Math.random() * 0.1) : this.intervalMs;
    const delay = Math.max(0, Math.round(started + interval - performance.now()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const begun = performance.now();
      void this.runOnce().then(() => this.schedule(begun, false));
    }, delay);
    this.timer.unref();
  }

  private runOnce(): Promise<Error | undefined> {
    this.inFlight = this.beat().then(
      () => {
        this.consecutiveFailures = 0;
        return undefined;
      },
      (err: unknown) => {
        this.consecutiveFailures += 1;
        const error = fromDatabaseError(err);
        this.logger.warn(
          { err: describeError(error), consecutiveFailures: this.consecutiveFailures },
          'cache server heartbeat failed; retrying at the next interval',
        );
        this.events.emit('heartbeat:error', { error, consecutiveFailures: this.consecutiveFailures });
        return error;
      },
    );
    return this.inFlight;
  }
}
