/**
 * One application server for the region race test (regions-processes.test.ts): readers read
 * rows through a cache, a writer updates rows and refreshes them in the same transaction. The
 * cache is either a region or the read-through users write by hand (get; on a miss load, then
 * set; the refresher deletes). Settings come as JSON in argv[2]; it reports over IPC.
 */
import knexFactory, { type Knex } from 'knex';
import { LRUCache } from 'lru-cache';
import { setImmediate as yieldToIo, setTimeout as delay } from 'node:timers/promises';
import { DistributedCache } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { DATABASES, sqliteConfig } from './databases.js';
import type { RaceChildSettings, RaceChildMessage, RaceParentMessage } from './region-race.js';

const settings = JSON.parse(process.argv[2] ?? '{}') as RaceChildSettings;
const knex = knexFactory(
  settings.dialect === 'sqlite'
    ? sqliteConfig(settings.sqliteFile ?? '')
    : { ...DATABASES[settings.dialect].config(), pool: { min: 0, max: 12 } },
);
const send = (message: RaceChildMessage) => process.send?.(message);
const table = `${settings.prefix}app_data`;
const cache = new DistributedCache({
  knex,
  tablePrefix: settings.prefix,
  serverIdentity: settings.identity,
  syncInterval: 50,
  pruneSchedule: false,
  logger: silentLogger,
});

type Row = { version: number };
let loads = 0;
/**
 * Reads the row, then takes a few milliseconds more before answering, as a loader that also
 * builds a view model would: this widens the window in which a write's invalidation can overtake
 * the load, so the hand-written read-through shows its race in every run, not once in a while.
 */
async function loadRow(id: number): Promise<Row | undefined> {
  loads += 1;
  const row = await knex(table).where({ id }).first('version');
  await delay(settings.loadDelayMs);
  return row ? { version: Number(row.version) } : undefined;
}

let read: (id: number) => Promise<Row | undefined>;
let peek: (id: number) => Row | undefined;
let discarded = () => 0;
if (settings.mode === 'region') {
  const rows = cache.region<Row>('row', { load: (id) => loadRow(Number(id)) });
  read = (id) => rows.get(id);
  peek = (id) => rows.peek(id);
  discarded = () => rows.stats().loadsDiscarded;
} else {
  const lru = new LRUCache<number, Row>({ max: 10_000 });
  const drop = (ids: readonly (number | string)[]) => ids.forEach((id) => lru.delete(Number(id)));
  cache.register({ id: 'row', refreshAll: () => lru.clear(), refresh: drop, remove: drop });
  read = async (id) => {
    const hit = lru.get(id);
    if (hit) return hit;
    const row = await loadRow(id);
    if (row) lru.set(id, row);
    return row;
  };
  peek = (id) => lru.get(id);
}

let running = false;
let reads = 0;
let writes = 0;
let failedWrites = 0;
let lastError = '';
const pick = () => 1 + Math.floor(Math.random() * settings.rows);

async function reader(): Promise<void> {
  while (running) {
    await read(pick());
    reads += 1;
    // Requests arrive about once a millisecond per reader: a paced workload, not a wait. (A hit
    // resolves at once; a loop without a pause would starve the poller and the writers of CPU.)
    await delay(1);
  }
}

async function writer(): Promise<void> {
  while (running) {
    const id = pick();
    try {
      await knex.transaction(async (trx: Knex.Transaction) => {
        await trx(table).where({ id }).increment('version', 1);
        await cache.refresh('row', [id], { trx });
      });
      writes += 1;
    } catch (err) {
      // A busy database (SQLite's one writer) refuses a write now and then: nothing was committed, so nothing is owed.
      failedWrites += 1;
      lastError = String(err);
    }
    // better-sqlite3 answers synchronously: a transaction can settle in microtasks alone.
    await (settings.writePauseMs > 0 ? delay(settings.writePauseMs) : yieldToIo());
  }
}

process.on('message', (message: RaceParentMessage) => {
  (async () => {
    if (message.type === 'go') {
      running = true;
      const work = [...Array.from({ length: settings.readers }, reader), ...(settings.writer ? [writer()] : [])];
      await delay(message.durationMs).then(() => (running = false));
      await Promise.all(work);
      send({ type: 'quiet' });
    } else if (message.type === 'check') {
      // Every write is committed (the parent waited for every server to go quiet): two polls apply all of them.
      await cache.sync();
      await cache.sync();
      const rows = await knex(table).select('id', 'version');
      let stale = 0;
      let entries = 0;
      for (const row of rows) {
        const cached = peek(Number(row.id));
        if (cached === undefined) continue;
        entries += 1;
        if (cached.version !== Number(row.version)) stale += 1;
      }
      send({ type: 'result', stale, entries, reads, writes, failedWrites, lastError, loads, discarded: discarded() });
      await cache.stop();
      await knex.destroy();
      process.disconnect();
    }
  })().catch((err) => {
    console.error(settings.identity, 'failed:', err);
    process.exit(1);
  });
});
process.on('disconnect', () => setTimeout(() => process.exit(0), 50).unref());

if (process.env.RACE_DEBUG) {
  setInterval(() => console.error(settings.identity, { running, reads, writes, failedWrites, loads, lastError }), 500).unref();
}
await cache.start();
send({ type: 'ready' });
