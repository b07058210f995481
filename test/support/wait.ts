import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `condition` until it holds or the deadline passes; never a fixed sleep. The failure
 * message includes `describe()` so a timeout says what was still missing.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: { timeout?: number; interval?: number; describe?: () => string } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeout ?? 10_000);
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${options.timeout ?? 10_000} ms${options.describe ? `: ${options.describe()}` : ''}`);
    await delay(options.interval ?? 10);
  }
}
