import { describeError } from '../errors.js';
import type { TypedEmitter } from '../events.js';
import type { Logger } from '../logger.js';
import { backoffDelay } from '../util/backoff.js';
import type { Clock, TimerHandle } from '../util/timers.js';

export interface PollLoopSettings {
  syncInterval: number;
  maxErrorBackoff: number;
  clock: Clock;
}

/**
 * The background loop of a Poller: when the next poll runs. It polls every syncInterval, backs off
 * after failures, and moves the next poll to "now" on a wake-up. What a poll does is the Poller's.
 */
export class PollLoop {
  /**
   * The loop's one pending run: at any moment the loop holds either this timer or a poll in
   * flight (`looping`), never both and never two timers. A wake-up moves the timer to "now", or,
   * during a loop poll, sets `pollAgain`; it never adds a timer of its own.
   */
  private timer: TimerHandle | undefined;
  private timerDue = Infinity;
  private looping = false;
  private pollAgain = false;
  private running = false;
  private consecutiveFailures = 0;

  constructor(
    /** One poll, shared with the public sync(); rejects when the poll fails. */
    private readonly poll: () => Promise<unknown>,
    private readonly events: TypedEmitter,
    private readonly logger: Logger,
    private readonly settings: PollLoopSettings,
  ) {}

  /** Starts the loop; the first poll runs after `firstDelayMs`. */
  start(firstDelayMs: number): void {
    if (this.running) return;
    this.running = true;
    this.arm(firstDelayMs);
  }

  /** Stops the loop: no timer is left, and a poll in flight arms none when it ends. */
  halt(): void {
    this.running = false;
    this.disarm();
    this.pollAgain = false;
  }

  /**
   * Polls as soon as possible, e.g. on a NOTIFY; the interval stays as the safety net. Wakes
   * coalesce: any number of them before the loop's next poll makes that one poll (the timer moves
   * to the next turn of the event loop), and any number during a loop poll makes one more after it.
   */
  wake(): void {
    if (!this.running) return;
    if (this.looping) {
      this.pollAgain = true;
      return;
    }
    if (this.timerDue > this.settings.clock.now()) this.arm(0);
  }

  private arm(delayMs: number): void {
    this.disarm();
    if (!this.running) return;
    this.timerDue = this.settings.clock.now() + delayMs;
    this.timer = this.settings.clock.setTimer(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      void this.tick();
    }, delayMs);
  }

  private disarm(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.timerDue = Infinity;
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    this.looping = true;
    this.pollAgain = false;
    let delayMs = this.settings.syncInterval;
    try {
      await this.poll();
      this.consecutiveFailures = 0;
    } catch (err) {
      if (!this.running) {
        this.looping = false;
        return;
      }
      this.consecutiveFailures += 1;
      // Exponential backoff with jitter, capped, forever: the poller never gives up silently.
      delayMs = backoffDelay(this.consecutiveFailures - 1, this.settings.syncInterval, this.settings.maxErrorBackoff);
      const error = err instanceof Error ? err : new Error(String(err));
      this.logger.warn(
        { err: describeError(error), consecutiveFailures: this.consecutiveFailures, retryInMs: delayMs },
        'cache sync failed; retrying',
      );
      this.events.emit('sync:error', { error, consecutiveFailures: this.consecutiveFailures, retryInMs: delayMs });
    }
    this.looping = false;
    // A wake during the poll may stand for a commit the poll did not see: poll once more at once.
    // Not after a failure: the backoff protects a database that is struggling.
    const again = this.pollAgain && this.consecutiveFailures === 0;
    this.pollAgain = false;
    this.arm(again ? 0 : delayMs);
  }
}
