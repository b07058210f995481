/** A pending call of a `Clock`; cancelling twice, or after it ran, does nothing. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * The one shape of an injected clock: milliseconds, comparable with each other (not necessarily
 * the epoch). Regions age entries by it (`RegionOptions.clock`); the clocks below extend it.
 */
export interface NowClock {
  now(): number;
}

/** A clock that can also wait, as the pruner rests between chunks; `signal` ends the rest early. */
export interface RestClock extends NowClock {
  rest(ms: number, signal?: AbortSignal): Promise<unknown>;
}

/**
 * Time as the poll loop sees it. The system clock in production; a test passes a manual one to
 * step through intervals without waiting, and to see how many timers the loop holds at once.
 */
export interface Clock extends NowClock {
  /** Calls `fn` once after `ms`; 0 means "on the next turn of the event loop". Never keeps the process alive. */
  setTimer(fn: () => void, ms: number): TimerHandle;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    // setImmediate rather than a zero timeout, which Node rounds up to 1 ms: a wake-up should not wait.
    if (ms <= 0) {
      const immediate = setImmediate(fn);
      immediate.unref();
      return { cancel: () => clearImmediate(immediate) };
    }
    const timer = setTimeout(fn, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
