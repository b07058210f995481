/**
 * A server process using the README's SIGTERM snippet, for test/sigterm.test.ts: after SIGTERM it
 * must end by itself, so nothing distcache left behind may keep it alive.
 */
import knexFactory from 'knex';
import { DistributedCache } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { sqliteConfig } from './databases.js';

const [filename, prefix] = process.argv.slice(2) as [string, string];
const knex = knexFactory(sqliteConfig(filename));
const cache = new DistributedCache({
  knex,
  tablePrefix: prefix,
  serverIdentity: 'sigterm',
  refreshers: [{ id: 'product', refreshAll() {} }],
  syncInterval: 50,
  logger: silentLogger,
});
await cache.start();
// The README's snippet.
process.once('SIGTERM', () => {
  // stop() is bounded by stopTimeout, whatever state the cache is in; knex is yours to close,
  // after the cache (close your HTTP server too).
  void cache.stop().finally(() => knex.destroy());
});
process.send?.('ready');
process.disconnect?.();
