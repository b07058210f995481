/**
 * A writer in its own process: writes `refresh('item', [key])` instructions with unique keys,
 * most inside a transaction that also changes application data (some rolled back on purpose),
 * some directly. Every attempt and outcome is appended synchronously to its event log before the
 * next step, so the parent knows what was attempted even when it kills this process. On a
 * { type: 'hold' } message the next transaction writes its instruction and then waits, open,
 * until the parent kills the process: a writer killed mid-transaction.
 */
import knexFactory from 'knex';
import { setTimeout as delay } from 'node:timers/promises';
import { DistributedCache, isDistcacheError, type CacheRefresher } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { DATABASES, sqliteConfig, type DialectName } from '../support/databases.js';
import { EventLog } from './fault-log.js';
import type { FaultChildMessage, FaultParentMessage } from './fault-server.js';

export interface FaultWriterSettings {
  dialect: DialectName;
  sqliteFile?: string;
  prefix: string;
  /** Also its server identity, and the first part of every key it writes. */
  name: string;
  logFile: string;
  appTable: string;
  rollbackRate: number;
  /** Share of writes made without a transaction (they reject with E_WRITE_FAILED when the database is down). */
  directRate: number;
  /** Longest random wait inside a transaction, after the instruction is written. */
  maxHoldMs: number;
  /** Longest random wait between writes. */
  maxPauseMs: number;
}

const settings = JSON.parse(process.argv[2] ?? '{}') as FaultWriterSettings;
const log = new EventLog(settings.logFile);
const pid = process.pid;
const now = () => Date.now();
const knex = knexFactory(settings.dialect === 'sqlite' ? sqliteConfig(settings.sqliteFile!) : DATABASES[settings.dialect].config());
const send = (message: FaultChildMessage) => {
  try {
    process.send?.(message);
  } catch {
    // the parent is gone
  }
};

// The writer applies its own committed writes locally; the checker expects exactly those.
const item: CacheRefresher = {
  id: 'item',
  refreshAll: () => log.write({ t: 'refresh-all', pid, at: now() }),
  refresh: (ids) => ids.forEach((id) => log.write({ t: 'applied', pid, at: now(), key: String(id) })),
};
// Never started: a writer has no poller, only the write API and its local apply.
const cache = new DistributedCache({
  knex,
  tablePrefix: settings.prefix,
  serverIdentity: settings.name,
  refreshers: [item],
  pruneSchedule: false,
  logger: silentLogger,
});
let rowIds: number[] = [];
cache.on('instruction:written', (e) => (rowIds = e.rowIds));

let stopping = false;
let hold = false;
process.on('message', (message: FaultParentMessage) => {
  if (message.type === 'stop') stopping = true;
  if (message.type === 'hold') hold = true;
});
process.on('disconnect', () => setTimeout(() => process.exit(0), 100).unref());

class Rollback extends Error {}

for (let i = 0; !stopping; i++) {
  const key = `${settings.name}.${pid}.${i}`;
  const direct = !hold && Math.random() < settings.directRate;
  const rollback = !direct && Math.random() < settings.rollbackRate;
  log.write({ t: 'attempt', pid, at: now(), key });
  rowIds = [];
  try {
    if (direct) {
      await cache.refresh('item', [key]);
    } else {
      await knex.transaction(async (trx) => {
        await trx(settings.appTable).insert({ note: key });
        // The instruction last, as docs/design.md asks (MySQL holds the sequence row until commit).
        await cache.refresh('item', [key], { trx });
        if (hold) {
          log.write({ t: 'holding', pid, at: now(), key });
          send({ type: 'holding', key });
          await new Promise(() => undefined); // until SIGKILL
        }
        if (settings.maxHoldMs > 0) await delay(Math.random() * settings.maxHoldMs);
        if (rollback) throw new Rollback();
      });
    }
    log.write({ t: 'committed', pid, at: now(), key, rowIds });
  } catch (err) {
    if (err instanceof Rollback) log.write({ t: 'rolled-back', pid, at: now(), key });
    else {
      const error = err as Error;
      log.write({
        t: 'write-error',
        pid,
        at: now(),
        key,
        code: isDistcacheError(error) ? error.code : ((error as { code?: string }).code ?? null),
        message: String(error.message).slice(0, 300),
        direct,
      });
      // Do not spin while the database is away.
      await delay(20);
    }
  }
  if (settings.maxPauseMs > 0) await delay(Math.random() * settings.maxPauseMs);
}
// Let local applies of the last commits finish before reporting done.
await cache.stop();
log.write({ t: 'stopped', pid, at: now() });
send({ type: 'done' });
await knex.destroy();
process.disconnect();
