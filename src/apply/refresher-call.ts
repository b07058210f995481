import { errors } from '../errors.js';
import { instructionWeight, type Instruction } from '../instructions/types.js';
import type { InstrumentationHooks } from '../instrumentation.js';
import { methodForKind } from '../refreshers/registry.js';
import type { AnyCacheRefresher } from '../refreshers/refresher.js';
import { isRejectedPayloadError } from '../refreshers/payload-schema.js';
import { pause, withTimeout } from '../util/async.js';

export interface RefresherCallContext {
  identity: string;
  settings: { refresherTimeout: number; refresherRetries: number; retryDelay: number };
  hooks: InstrumentationHooks;
}

/**
 * One refresher method, called with retries: each attempt bounded by refresherTimeout and wrapped
 * in the instrumentation hook, the delay doubling from retryDelay. Returns the last error, or
 * undefined once a call succeeded; never throws. A refused payload fails the same way every time,
 * so it is not retried; an aborted `signal` (stop() stopped waiting) ends the retries at once.
 */
export async function callWithRetries(
  context: RefresherCallContext,
  refresher: AnyCacheRefresher,
  instruction: Instruction,
  source: 'local' | 'remote',
  fallback: boolean,
  signal?: AbortSignal,
): Promise<Error | undefined> {
  const { refresherTimeout, refresherRetries, retryDelay } = context.settings;
  let lastError: Error | undefined;
  for (let attempt = 0; attempt <= refresherRetries; attempt++) {
    if (signal?.aborted) return lastError ?? new errors.StoppedError('stop() stopped waiting');
    if (attempt > 0 && !(await pause(retryDelay * 2 ** (attempt - 1), signal))) return lastError;
    const info = () => ({
      identity: context.identity,
      refresher: refresher.id,
      kind: instruction.kind,
      count: instructionWeight(instruction),
      source,
      attempt,
      fallback,
    });
    try {
      await context.hooks.refresher(info, () =>
        withTimeout(
          () => invoke(refresher, instruction),
          refresherTimeout,
          () =>
            new errors.RefresherTimeoutError(
              `refresher '${refresher.id}' ${methodForKind(instruction.kind)}() did not finish ` +
                `within ${refresherTimeout} ms (refresherTimeout)`,
            ),
          signal,
        ),
      );
      return undefined;
    } catch (err) {
      lastError = err instanceof Error ? err : new Error(String(err));
      if (isRejectedPayloadError(lastError)) return lastError;
    }
  }
  return lastError;
}

/**
 * Calls the refresher's method. Each call gets its own copy of the ids or payloads: a refresher
 * that sorts or empties its array and then throws must not hand the retry (or the next refresher)
 * what it left behind.
 */
function invoke(refresher: AnyCacheRefresher, instruction: Instruction): unknown {
  switch (instruction.kind) {
    case 'refresh-all':
      return refresher.refreshAll();
    case 'refresh':
      return refresher.refresh!(instruction.ids.slice());
    case 'remove':
      return refresher.remove!(instruction.ids.slice());
    case 'payload':
      return refresher.refreshPayload!(structuredClone(instruction.payloads));
  }
}
