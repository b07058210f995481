import type { Knex } from 'knex';
import type { DistributedCache } from '../../src/cache.js';
import { silentLogger } from '../../src/logger.js';
import { dialectFor } from '../../src/dialects/dialect.js';
import { tableNames } from '../../src/store/tables.js';
import { createSqliteWakeSource } from '../../src/dialects/sqlite/wake-source.js';
import type { WakeSource } from '../../src/wake/wake-source.js';

/** The cache option that turns the wake-up on or off, once DistributedCache has it. */
export function notifyOption(on: boolean | string): object {
  return { notify: on };
}

export interface Wake {
  /** Call after each committed write when the cache does not do it itself. */
  notifyCommitted(): void;
  stop(): Promise<void>;
  /** True when DistributedCache wires the wake-up itself (it has the `notify` option). */
  builtIn: boolean;
  source: WakeSource | undefined;
}

/**
 * The wake-up for a benchmark cache. When DistributedCache wires it itself (it resolved a `notify`
 * option and the dialect declares `createWakeSource`), nothing is added. Otherwise the same WakeSource is attached from outside: a wake
 * calls the public `sync()`, and the writer calls `notifyCommitted()` after each write.
 */
export async function attachWake(cache: DistributedCache, knex: Knex, on: boolean): Promise<Wake> {
  const dialect = dialectFor(knex);
  // Built in: the cache has the option and its dialect declares a source (SQLite's may not yet).
  const builtIn = 'notify' in (cache.options as object) && typeof dialect.createWakeSource === 'function';
  if (builtIn || !on) return { notifyCommitted() {}, async stop() {}, builtIn, source: undefined };
  const config = {
    knex,
    tables: tableNames(cache.options.tablePrefix),
    cluster: cache.options.cluster,
    logger: silentLogger,
    queryTimeout: 10_000,
  };
  const source = dialect.createWakeSource
    ? dialect.createWakeSource(config)
    : dialect.name === 'sqlite'
      ? createSqliteWakeSource(config)
      : undefined;
  if (!source) return { notifyCommitted() {}, async stop() {}, builtIn, source: undefined };
  await source.start(() => {
    cache.sync().catch(() => undefined);
  });
  return { notifyCommitted: () => source.notifyCommitted(), stop: () => source.stop(), builtIn, source };
}
