import knexFactory, { type Knex } from 'knex';
import type { TestContext } from 'node:test';
import { DistributedCache, migrate, silentLoggerForTests, type DistributedCacheOptions } from './exports.js';
import { DATABASES, dropPrefixed, freshPrefix, type DialectName } from '../support/databases.js';

export interface Harness {
  dialect: DialectName;
  knex: Knex;
  prefix: string;
  table(name: 'cache_instruction' | 'cache_cursor' | 'cache_failure'): string;
  /** A cache on this harness's tables; stopped when the test ends. */
  cache(options: Partial<DistributedCacheOptions> & { serverIdentity: string }): DistributedCache;
  /** Another knex on the same database (another "server" or writer connection). */
  connection(): Knex;
}

/**
 * One database, one fresh table prefix, migrated, for one test. Tables are dropped when the test
 * ends; set DISTCACHE_KEEP_TABLES=1 to keep them as evidence while debugging.
 */
export async function harness(t: TestContext, dialect: DialectName): Promise<Harness> {
  const config = DATABASES[dialect].config();
  const knex = knexFactory(config);
  const prefix = freshPrefix();
  await migrate(knex, { tablePrefix: prefix });
  const caches: DistributedCache[] = [];
  const extra: Knex[] = [];
  t.after(async () => {
    await Promise.all(caches.map((c) => c.stop()));
    await Promise.all(extra.map((k) => k.destroy()));
    if (process.env.DISTCACHE_KEEP_TABLES !== '1') await dropPrefixed(knex, prefix);
    await knex.destroy();
  });
  const h: Harness = {
    dialect,
    knex,
    prefix,
    table: (name) => `${prefix}${name}`,
    cache(options) {
      const cache = new DistributedCache({
        knex,
        tablePrefix: prefix,
        syncInterval: 60_000, // tests drive sync() themselves unless they say otherwise
        pruneSchedule: false,
        retryDelay: 1,
        logger: silentLoggerForTests,
        ...options,
      });
      caches.push(cache);
      return cache;
    },
    connection() {
      const other = knexFactory(config);
      extra.push(other);
      return other;
    },
  };
  return h;
}
