import knexFactory, { type Knex } from 'knex';
import type { TestContext } from 'node:test';
import { DistributedCache, migrate, silentLoggerForTests, type DistributedCacheOptions } from './exports.js';
import { DATABASES, dropPrefixed, freshPrefix, PG_NOTIFY_URL, removeSqliteFile, type DialectName } from '../support/databases.js';

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
    const file = (config.connection as { filename?: string } | undefined)?.filename;
    if (dialect === 'sqlite' && file) removeSqliteFile(file);
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
        notify: false,
        pruneSchedule: false,
        retryDelay: 1,
        logger: silentLoggerForTests,
        ...options,
        // Behind a transaction-mode pooler the listener needs its own session (see databases.ts).
        ...(options.notify === true && dialect === 'postgres' && PG_NOTIFY_URL ? { notify: PG_NOTIFY_URL } : {}),
      });
      caches.push(cache);
      return cache;
    },
    connection() {
      // better-sqlite3 is synchronous: a second connection in this process that waits on the
      // file's write lock (busy_timeout) blocks the event loop, so the connection holding the lock
      // can never commit. Separate SQLite servers are separate processes; in one process they share
      // the one connection, as an application would.
      if (dialect === 'sqlite') return knex;
      const other = knexFactory(config);
      extra.push(other);
      return other;
    },
  };
  return h;
}

/** Backdates rows so a prune sees them as expired, without waiting: the clock is the data. */
export async function backdate(h: Harness, ids: number[] | 'all', days = 30): Promise<void> {
  const stamp = new Date(Date.now() - days * 24 * 3600_000);
  const value = h.dialect === 'sqlite' ? stamp.toISOString() : stamp;
  let query = h.knex(h.table('cache_instruction'));
  if (ids !== 'all') query = query.whereIn('id', ids);
  await query.update({ utc_stamp: value });
}

export async function rowIds(h: Harness): Promise<number[]> {
  const rows = await h.knex(h.table('cache_instruction')).select('id').orderBy('id');
  return rows.map((r: { id: unknown }) => Number(r.id));
}

export async function failures(h: Harness): Promise<Array<Record<string, unknown>>> {
  return h.knex(h.table('cache_failure')).select('*').orderBy('id');
}
