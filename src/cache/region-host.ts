import type { DistcacheEvents, TypedEmitter } from '../events.js';
import type { RegionHost } from '../regions/region.js';
import type { RequestScopes } from '../regions/request-scope.js';
import type { CacheWriteApi } from './write-api.js';

/**
 * What a region may ask of its cache: its writes go through the cache's write API (so they reach
 * every server), and its invalidations also end the per-request memos of what they invalidated.
 */
export function regionHost(writes: CacheWriteApi, scopes: RequestScopes, events: TypedEmitter): RegionHost {
  return {
    refresh: (refresher, ids, options) => writes.refresh(refresher, ids, options),
    remove: (refresher, ids, options) => writes.remove(refresher, ids, options),
    refreshAll: (refresher, options) => writes.refreshAll(refresher, options),
    refreshPayload: (refresher, payloads, options) => writes.refreshPayload(refresher, payloads, options),
    emit: (event, payload) => {
      if (event === 'region:invalidated') {
        const { region, keys, tags } = payload as DistcacheEvents['region:invalidated'];
        scopes.invalidated(region, keys, tags !== null);
      }
      events.emit(event, payload);
    },
  };
}
