/** Entry point `distcache/refreshers`: refreshers built from caches people already use. No library is imported. */
export { keyedRefresher, type KeyedRefresherOptions, type KeyedStore } from './keyed.js';
export { mapRefresher, lruRefresher, type MapLike, type MapRefresherOptions, type LruRefresherOptions } from './map.js';
export { keyvRefresher, type KeyvLike, type KeyvRefresherOptions } from './keyv.js';
export { cacheManagerRefresher, type CacheManagerLike, type CacheManagerRefresherOptions } from './cache-manager.js';
export {
  withPayloadSchema,
  RejectedPayloadError,
  isRejectedPayloadError,
  REJECTED_PAYLOAD,
  type PayloadSchema,
  type PayloadRejection,
  type StandardSchemaLike,
} from '../../refreshers/payload-schema.js';
