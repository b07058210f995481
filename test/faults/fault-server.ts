/**
 * A cache server in its own process, for the fault tests that kill processes. Started by
 * `FaultProcess` (fault-processes.ts) with its settings as JSON in argv[2]. Every apply, cold boot
 * and start is appended synchronously to its event log (fault-log.ts) before anything else can
 * happen, so a SIGKILL at any moment leaves an exact record; IPC only carries hints (started,
 * apply-begin) that let the parent aim its kills.
 */
import knexFactory from 'knex';
import { setTimeout as delay } from 'node:timers/promises';
import { DistributedCache, isDistcacheError, type CacheRefresher } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { DATABASES, sqliteConfig, type DialectName } from '../support/databases.js';
import { EventLog } from './fault-log.js';

export interface FaultServerSettings {
  dialect: DialectName;
  /** SQLite: the database file. */
  sqliteFile?: string;
  prefix: string;
  identity: string;
  logFile: string;
  syncInterval: number;
  maxErrorBackoff?: number;
  queryTimeout?: number;
  /** A pause after the first id and every fifth one, so a kill lands mid-apply often. */
  applyPauseMs: number;
  maxPendingInstructions?: number;
  pageSize?: number;
}

export type FaultChildMessage = { type: 'started' } | { type: 'apply-begin' } | { type: 'holding'; key: string } | { type: 'done' };
export type FaultParentMessage = { type: 'stop' } | { type: 'hold' };

const settings = JSON.parse(process.argv[2] ?? '{}') as FaultServerSettings;
const log = new EventLog(settings.logFile);
const pid = process.pid;
const now = () => Date.now();
log.write({ t: 'boot', pid, at: now(), identity: settings.identity });

const knex = knexFactory(settings.dialect === 'sqlite' ? sqliteConfig(settings.sqliteFile!) : DATABASES[settings.dialect].config());
const send = (message: FaultChildMessage) => {
  try {
    process.send?.(message);
  } catch {
    // the parent is gone; the log is the record
  }
};

let coldBootAt: number | undefined;
const item: CacheRefresher = {
  id: 'item',
  refreshAll: () => log.write({ t: 'refresh-all', pid, at: now() }),
  async refresh(ids) {
    log.write({ t: 'apply-begin', pid, at: now(), n: ids.length });
    send({ type: 'apply-begin' });
    for (let i = 0; i < ids.length; i++) {
      log.write({ t: 'applied', pid, at: now(), key: String(ids[i]) });
      if ((i === 0 || i % 5 === 4) && settings.applyPauseMs > 0) await delay(settings.applyPauseMs);
    }
    log.write({ t: 'apply-end', pid, at: now() });
  },
};

const cache = new DistributedCache({
  knex,
  tablePrefix: settings.prefix,
  serverIdentity: settings.identity,
  refreshers: [item],
  syncInterval: settings.syncInterval,
  maxErrorBackoff: settings.maxErrorBackoff,
  queryTimeout: settings.queryTimeout,
  maxPendingInstructions: settings.maxPendingInstructions,
  pageSize: settings.pageSize,
  pruneSchedule: false,
  logger: silentLogger,
  onColdBoot: async () => {
    // Logged when the refresh begins: the head was taken before this, so the position logged
    // below covers nothing committed after the caches reloaded.
    coldBootAt = now();
    await item.refreshAll();
  },
});

// The head a cold boot took reaches the store in resetCursor; log it before it is stored, so a
// kill between the two leaves the cold boot on record (its refreshAll() has already happened).
const resetCursor = cache.store.resetCursor.bind(cache.store);
cache.store.resetCursor = async (identity, position) => {
  if (coldBootAt !== undefined) log.write({ t: 'cold-boot', pid, at: coldBootAt, position, reason: 'cold-boot' });
  else log.write({ t: 'head-start', pid, at: now(), position });
  coldBootAt = undefined;
  return resetCursor(identity, position);
};
cache.on('sync:error', ({ error }) =>
  log.write({ t: 'sync-error', pid, at: now(), code: isDistcacheError(error) ? error.code : null, message: error.message.slice(0, 300) }),
);
cache.on('sync:complete', ({ rows }) => log.write({ t: 'sync-ok', pid, at: now(), rows }));

process.on('message', (message: FaultParentMessage) => {
  if (message.type !== 'stop') return;
  void (async () => {
    await cache.stop();
    log.write({ t: 'stopped', pid, at: now() });
    await knex.destroy();
    process.disconnect();
  })();
});
// The parent went away (a failed test): do not linger.
process.on('disconnect', () => setTimeout(() => process.exit(0), 100).unref());

await cache.start();
log.write({ t: 'started', pid, at: now() });
send({ type: 'started' });
