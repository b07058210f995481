import { setTimeout as delay } from 'node:timers/promises';

/**
 * Races `work` against a timer. The work itself cannot be cancelled (a refresher is user code),
 * so on timeout it goes on in the background and its result is ignored.
 */
export async function withTimeout<T>(work: () => T | Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  const controller = new AbortController();
  const timer = delay(ms, undefined, { signal: controller.signal, ref: false }).then(
    () => {
      throw onTimeout();
    },
    () => undefined as never,
  );
  try {
    return await Promise.race([Promise.resolve().then(work), timer]);
  } finally {
    controller.abort();
  }
}

/** A wait that does not keep the process alive. */
export function sleep(ms: number): Promise<void> {
  return delay(ms, undefined, { ref: false });
}
