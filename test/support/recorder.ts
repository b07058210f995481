import type { CacheRefresher } from '../../src/index.js';
import type { CacheId, JsonValue } from '../../src/instructions/types.js';

export type Call =
  | { kind: 'refresh-all' }
  | { kind: 'refresh'; ids: CacheId[] }
  | { kind: 'remove'; ids: CacheId[] }
  | { kind: 'payload'; payloads: JsonValue[] };

/** A refresher that records every call, so tests assert on what a server actually received. */
export interface RecordingRefresher extends CacheRefresher {
  calls: Call[];
  /** Every id received by refresh(), flattened. */
  refreshedIds(): CacheId[];
}

export function recorder(id = 'product', hooks: { onCall?: (call: Call) => void | Promise<void> } = {}): RecordingRefresher {
  const calls: Call[] = [];
  const record = async (call: Call) => {
    await hooks.onCall?.(call);
    calls.push(call);
  };
  return {
    id,
    name: `recorder ${id}`,
    calls,
    refreshedIds: () => calls.flatMap((c) => (c.kind === 'refresh' ? c.ids : [])),
    refreshAll: () => record({ kind: 'refresh-all' }),
    refresh: (ids) => record({ kind: 'refresh', ids: [...ids] }),
    remove: (ids) => record({ kind: 'remove', ids: [...ids] }),
    refreshPayload: (payloads) => record({ kind: 'payload', payloads: [...payloads] }),
  };
}
