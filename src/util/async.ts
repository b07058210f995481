import { setTimeout as delay } from 'node:timers/promises';

/**
 * Races `work` against a timer. The work itself cannot be cancelled (a refresher is user code),
 * so on timeout it goes on in the background and its result is ignored.
 *
 * A synchronous `work` (most refreshers: a Map or LRU delete) has finished by the time it returns,
 * so it gets no timer at all; this sits on every write's and every poll's path. A promise gets a
 * plain timer, cleared when it settles.
 */
export function withTimeout<T>(work: () => T | Promise<T>, ms: number, onTimeout: () => Error, signal?: AbortSignal): Promise<T> {
  let result: T | Promise<T>;
  try {
    result = work();
  } catch (err) {
    return Promise.reject(err);
  }
  if (!isThenable(result)) return Promise.resolve(result);
  const pending = result;
  return new Promise<T>((resolve, reject) => {
    // An abort (stop() giving up) ends the wait at once, and takes the timer with it.
    const onAbort = () => settle(() => reject(new Error('abandoned at stop()')));
    const settle = (then: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      then();
    };
    const timer = setTimeout(() => settle(() => reject(onTimeout())), ms);
    timer.unref();
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    Promise.resolve(pending).then(
      (value) => settle(() => resolve(value)),
      (err: unknown) => settle(() => reject(err)),
    );
  });
}

function isThenable<T>(value: T | Promise<T>): value is Promise<T> {
  return (
    value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function'
  );
}

/** A wait that does not keep the process alive. */
export function sleep(ms: number): Promise<void> {
  return delay(ms, undefined, { ref: false });
}

/** A wait that ends early, with false, when `signal` is aborted; the timer goes with it. True when the time is up. */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return delay(ms, true, { ref: false, signal }).catch(() => false);
}

/**
 * Waits for `work` to settle, at most `ms`; resolves true if it settled in time. Never rejects.
 * The timer is cleared either way, so a wait that ended early leaves nothing behind (a stop()
 * that returned must not leave a `stopTimeout` timer pending).
 */
export function settleWithin(work: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (!work) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, ms));
    timer.unref();
    work.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

/**
 * Like `work`, but rejects with `onTimeout()` after `ms` (the work goes on, ignored). The timer is
 * cleared when the work settles first.
 */
export function within<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return withTimeout(() => work, ms, onTimeout);
}
