import type { CacheRefresher, JsonValue } from '../conformance/exports.js';
import type { CacheId } from '../../src/instructions/types.js';

/** One refresher call as the refresher received it, with its arguments copied at the call. */
export type LoggedCall =
  | { refresher: string; kind: 'refresh-all' }
  | { refresher: string; kind: 'refresh' | 'remove'; ids: CacheId[] }
  | { refresher: string; kind: 'payload'; payloads: JsonValue[] };

export interface CallLog {
  calls: LoggedCall[];
  /** The calls logged since `from`. */
  since(from: number): LoggedCall[];
}

/**
 * Refreshers that log every call, in call order across refreshers, so one server's sequence can
 * be compared with another's. `fail` may throw or hang a call (it sees the live arguments).
 */
export function loggingRefreshers(
  ids: string[],
  fail?: (call: LoggedCall, live: unknown[]) => void | Promise<void>,
): { refreshers: CacheRefresher[]; log: CallLog } {
  const calls: LoggedCall[] = [];
  const log: CallLog = { calls, since: (from) => calls.slice(from) };
  const refreshers = ids.map((id): CacheRefresher => ({
    id,
    refreshAll: () => run({ refresher: id, kind: 'refresh-all' }, []),
    refresh: (list) => run({ refresher: id, kind: 'refresh', ids: [...list] }, list),
    remove: (list) => run({ refresher: id, kind: 'remove', ids: [...list] }, list),
    refreshPayload: (list) => run({ refresher: id, kind: 'payload', payloads: [...(list as JsonValue[])] }, list),
  }));
  function run(call: LoggedCall, live: unknown[]): void | Promise<void> {
    const failing = fail?.(call, live);
    if (failing instanceof Promise) return failing.then(() => void calls.push(call));
    calls.push(call);
  }
  return { refreshers, log };
}
