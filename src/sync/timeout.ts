import { setTimeout as delay } from 'node:timers/promises';

/**
 * Races `work` against a timer. The work itself cannot be cancelled (a refresher is user code),
 * so on timeout it goes on in the background and its result is ignored.
 *
 * A synchronous `work` (most refreshers: a Map or LRU delete) has finished by the time it returns,
 * so it gets no timer at all; this sits on every write's and every poll's path. A promise gets a
 * plain timer, cleared when it settles.
 */
export function withTimeout<T>(work: () => T | Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let result: T | Promise<T>;
  try {
    result = work();
  } catch (err) {
    return Promise.reject(err);
  }
  if (!isThenable(result)) return Promise.resolve(result);
  const pending = result;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
    Promise.resolve(pending).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

function isThenable<T>(value: T | Promise<T>): value is Promise<T> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

/** A wait that does not keep the process alive. */
export function sleep(ms: number): Promise<void> {
  return delay(ms, undefined, { ref: false });
}
