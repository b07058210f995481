import type { NowClock } from '../util/timers.js';

/** A reading serves at most this many reads: within one burst of microtasks (no timer can fire), time still moves. */
const READS_PER_READING = 1024;

/**
 * The clock entries age by, read at most about once a millisecond: `performance.now()` costs more
 * than the rest of a cache hit (about 100 ns), and a region reads it on every hit of an entry with
 * a ttl. lru-cache's own `ttlResolution` does the same, but leaves an unref'd timer behind that
 * nothing can clear; this one's timer is cleared by stop(), so a stopped region holds no timer.
 * A reading is dropped when its timer fires or after READS_PER_READING reads, whichever is first,
 * so an entry lives at most about a millisecond (or 1,024 hits) past its ttl.
 */
export class CoarseClock implements NowClock {
  private reading = 0;
  private readsLeft = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly expire = (): void => {
    this.timer = undefined;
    this.readsLeft = 0;
  };

  now(): number {
    if (this.readsLeft > 0) {
      this.readsLeft -= 1;
      return this.reading;
    }
    this.reading = performance.now();
    this.readsLeft = READS_PER_READING - 1;
    if (this.timer === undefined) {
      this.timer = setTimeout(this.expire, 1);
      this.timer.unref();
    }
    return this.reading;
  }

  /** Clears the timer; the next now() reads the clock again. */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.readsLeft = 0;
  }
}
