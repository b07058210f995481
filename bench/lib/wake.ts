import type { Knex } from 'knex';
import type { DistributedCache } from '../../src/cache.js';
import { silentLogger } from '../../src/logger.js';
import { dialectFor } from '../../src/dialects/dialect.js';
import { tableNames } from '../../src/store/tables.js';
import { createSqliteWakeSource } from '../../src/dialects/sqlite/wake-source.js';
import type { WakeSource } from '../../src/wake/wake-source.js';
import { DEFAULTS } from '../../src/options.js';
import { sleep } from './stats.js';

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

/**
 * The pause after a change that a receiver must hear on its own: longer than the default
 * wakeThrottle, with a few milliseconds of jitter. A wake-up polls at once only when the last poll
 * started at least wakeThrottle ago; changes closer together than that are a stream, which the
 * throttle answers with one poll per wakeThrottle by design, so each would wait up to 50 ms for it.
 * `windows`: how many throttle windows one change opens (SQLite's WAL watch wakes twice per commit,
 * and the second poll opens a window of its own).
 */
export function pauseAfterChange(windows = 1): Promise<void> {
  return sleep(windows * DEFAULTS.wakeThrottle + 5 + Math.random() * 10);
}

/** The pause after a bare NOTIFY of the baseline, which wakes no poller. */
export function pauseAfterNotify(): Promise<void> {
  return sleep(4 + Math.random() * 8);
}
