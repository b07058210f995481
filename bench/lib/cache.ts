import type { Knex } from 'knex';
import { DistributedCache } from '../../src/cache.js';
import type { DistributedCacheOptions } from '../../src/options.js';
import type { AnyCacheRefresher } from '../../src/refreshers/refresher.js';
import { silentLogger } from '../../src/logger.js';
import { notifyOption } from './wake.js';

/** A DistributedCache for a benchmark: quiet, no scheduled prune, wake-up on or off. */
export function benchCache(
  knex: Knex,
  prefix: string,
  identity: string,
  options: Partial<DistributedCacheOptions> & { notify?: boolean | string; refreshers?: AnyCacheRefresher[] } = {},
): DistributedCache {
  const { notify = false, ...rest } = options;
  return new DistributedCache({
    knex,
    tablePrefix: prefix,
    serverIdentity: identity,
    pruneSchedule: false,
    logger: silentLogger,
    refreshers: [noopRefresher()],
    ...rest,
    ...notifyOption(notify),
  } as DistributedCacheOptions);
}

/** A refresher that does nothing, so a benchmark measures distcache rather than a cache. */
export function noopRefresher(id = 'bench'): AnyCacheRefresher {
  return { id, refreshAll() {}, refresh() {}, remove() {}, refreshPayload() {} };
}
