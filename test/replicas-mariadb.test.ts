import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import knexFactory, { type Knex } from 'knex';
import { DistributedCache, migrate } from '../src/index.js';
import { silentLogger } from '../src/logger.js';
import { mysqlDialect } from '../src/dialects/mysql/dialect.js';
import type { MysqlReplicatedStore } from '../src/dialects/mysql/replicated-store.js';
import { Ticker } from '../src/sync/ticker.js';
import { tableNames } from '../src/store/tables.js';
import { createMariaPair, mariadbAvailability, type MariaPair } from './support/mariadb-pair.js';
import { recorder } from './support/recorder.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { waitFor } from './support/wait.js';

/**
 * Issue 25, item 5: reading MariaDB replicas. One throwaway primary (binlog in ROW format) and one
 * replica of it (ports 5480-5481), shared by every test of this file, always stopped and deleted.
 */
checkLeaksAfterEach();

const skip = await mariadbAvailability();
const PREFIX = 'rm_';
const tables = tableNames(PREFIX);
const PAGE = 50;
/** The application's table the race's writers write before their instruction. */
const APP_TABLE = 'rm_app';

function knexFor(url: string): Knex {
  return knexFactory({ client: 'mysql2', connection: url, pool: { min: 0, max: 10 }, acquireConnectionTimeout: 3000 });
}

interface Reader {
  head(): Promise<string>;
  read(from: string, token: string | null): Promise<{ rows: Array<{ id: number }>; token: string | null; position: string | null }>;
}

interface RaceResult {
  committed: number;
  rolledBack: number;
  lost: number;
  unexpected: number;
  duplicates: number;
  polls: number;
}

describe('replicas on MariaDB: read only where the primary commit order is kept', { skip, concurrency: false }, () => {
  let pair: MariaPair;
  let primaryKnex: Knex;
  let replicaKnex: Knex;

  /** Waits until the replica has applied everything the primary has written so far. */
  async function applied(): Promise<void> {
    const position = (await pair.primary.sql('select @@gtid_binlog_pos')).trim();
    const waited = (await pair.replica.sql(`select master_gtid_wait('${position}', 20)`)).trim();
    assert.equal(waited, '0', `the replica reaches ${position}`);
  }

  /** Replication settings of the replica; the SQL thread is stopped while they change. */
  async function replicaSettings(threads: number, mode = 'optimistic'): Promise<void> {
    await pair.replica.sql(
      `stop slave; set global slave_parallel_threads = ${threads}; set global slave_parallel_mode = '${mode}'; ` + 'start slave',
    );
  }

  before(
    async () => {
      pair = await createMariaPair(5480);
      primaryKnex = knexFor(pair.primary.url);
      replicaKnex = knexFor(pair.replica.url);
      await migrate(primaryKnex, { tablePrefix: PREFIX });
      await primaryKnex.raw(`create table ${APP_TABLE} (id bigint auto_increment primary key, w int not null, n int not null)`);
      await applied();
    },
    { timeout: 120_000 },
  );
  after(async () => {
    await primaryKnex?.destroy();
    await replicaKnex?.destroy();
    await pair?.drop();
  });

  function replicatedStore(cluster: string, maxReplicaLag = 60_000): MysqlReplicatedStore {
    return mysqlDialect.createReplicatedStore(
      { knex: primaryKnex, tables, cluster, queryTimeout: 10_000 },
      { replicas: [replicaKnex], maxReplicaLag, retryAfter: 200 },
    ) as MysqlReplicatedStore;
  }

  /**
   * 8 writers commit out of order on the primary: each writes an application row, holds its
   * transaction open (up to 300 ms, across many reader polls of 10 ms), writes its instruction and
   * commits, and 5 % roll back. Each
   * commit is followed by a tick, and a ticker runs on its own as the elected server's does. The
   * reader polls `reader` with its position in memory.
   */
  async function race(
    cluster: string,
    reader: Reader,
    tick: () => Promise<void>,
    writerKnex: (w: number) => Knex = () => primaryKnex,
    appRows: (w: number) => number = () => 1,
  ): Promise<RaceResult> {
    const writerStore = mysqlDialect.createStore({ knex: primaryKnex, tables, cluster, queryTimeout: 10_000 });
    const ticker = new Ticker({ tick, elected: () => true, intervalMs: 50, logger: silentLogger, onError: () => undefined });
    const committed = new Set<number>();
    let rolledBack = 0;
    const seen: number[] = [];
    let position = await reader.head();
    let polls = 0;
    let stopReading = false;
    let readerError: unknown;
    const reading = (async () => {
      for (;;) {
        let token: string | null = null;
        let next = position;
        do {
          const page = await reader.read(position, token);
          for (const r of page.rows) seen.push(r.id);
          if (page.position !== null) next = page.position;
          token = page.token;
        } while (token !== null);
        position = next;
        polls += 1;
        if (stopReading) return;
        await delay(10);
      }
    })().catch((err: unknown) => void (readerError = err));
    ticker.start();
    const until = Date.now() + 4000;
    const writer = async (w: number) => {
      for (let n = 0; Date.now() < until; n += 1) {
        const trx = await writerKnex(w).transaction();
        // The application's own write first, then the instruction last (as docs/design.md asks):
        // the transactions run side by side and commit in another order than they began.
        await trx(APP_TABLE).insert(Array.from({ length: appRows(w) }, () => ({ w, n })));
        // Workload pacing, not a wait for a condition: most transactions short, some held across many polls.
        await delay(Math.random() < 0.3 ? 50 + Math.random() * 250 : Math.random() * 10);
        const row = { json: JSON.stringify({ w, n }), originated: `w${w}`, originInstance: null, instructionCount: 1 };
        const [id] = await writerStore.insert([row], trx);
        await delay(Math.random() * 3);
        if (Math.random() < 0.05) {
          await trx.rollback();
          rolledBack += 1;
        } else {
          await trx.commit();
          committed.add(id!);
          ticker.afterCommit();
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
    await ticker.stop();
    await tick();
    await applied();
    // Two full polls after the replica has everything: whatever is still missing is lost.
    const afterPolls = polls;
    await waitFor(() => polls >= afterPolls + 2 || readerError !== undefined, { timeout: 20_000 });
    stopReading = true;
    await reading;
    if (readerError) throw readerError as Error;
    const seenSet = new Set(seen);
    return {
      committed: committed.size,
      rolledBack,
      lost: [...committed].filter((id) => !seenSet.has(id)).length,
      unexpected: [...seenSet].filter((id) => !committed.has(id)).length,
      duplicates: seen.length - seenSet.size,
      polls,
    };
  }

  for (const [threads, mode] of [
    [0, 'serial SQL thread'],
    [4, 'optimistic'],
    [4, 'aggressive'],
  ] as const) {
    const name =
      '8 out-of-order writers, 5 % rollbacks, transactions held across polls: ' +
      `a replica (${mode}${threads ? `, ${threads} threads` : ''}) loses nothing`;
    test(name, async () => {
      await replicaSettings(threads, threads === 0 ? 'optimistic' : mode);
      const cluster = `race-${threads}-${mode.split(' ')[0]!}`;
      const store = replicatedStore(cluster);
      await store.verifyReplicas();
      await store.tick();
      await applied();
      const reader: Reader = {
        head: () => store.head(),
        read: (from, token) => store.readPage('reader', from, token, PAGE),
      };
      const result = await race(cluster, reader, () => store.tick());
      console.log(`# MariaDB replica, ${mode}: ${JSON.stringify({ ...result, primaryReads: store.primaryReads })}`);
      assert.ok(result.committed > 200, `enough commits to mean something (${result.committed})`);
      assert.ok(result.rolledBack > 0, 'some transactions rolled back');
      assert.equal(result.lost, 0, 'lost');
      assert.equal(result.unexpected, 0, 'unexpected');
      assert.equal(result.duplicates, 0, 'duplicates');
      assert.equal(store.primaryReads, 0, 'every page was read on the replica');
      assert.equal(store.replicaReports[0]?.state, 'ok');
    });
  }

  const flagsTest =
    "a replica's copy of a server's cursor flags is ignored until it has applied that server's own cursor reset; " +
    'a replica behind the position serves nothing';
  test(flagsTest, async () => {
    await replicaSettings(0);
    const store = replicatedStore('flags');
    const head = await store.head();
    await store.saveCursor('x', head);
    await primaryKnex(tables.cursor).where({ cluster: 'flags', server_identity: 'x' }).update({ cold_boot_requested: true });
    await store.tick();
    await applied();
    assert.equal((await store.readPage('x', head, null, PAGE)).coldBootRequested, true, 'the request, read on the replica');
    // The replica stops applying (its settings were just checked, and its tick is young, so it is still read).
    await pair.replica.sql('stop slave sql_thread');
    try {
      await store.resetCursor('x', head); // the cold boot's reset, on the primary
      const stale = await store.readPage('x', head, null, PAGE);
      assert.equal(stale.coldBootRequested, false, "the replica's flag predates the reset: not a second request");
      assert.equal(store.primaryReads, 0, 'read on the replica');
      // A position the replica has not reached (read from the primary): the primary serves the page.
      const row = { json: '[]', originated: 'x', originInstance: null, instructionCount: 1 };
      await store.insert([row]);
      const ahead = await store.head();
      const page = await store.readPage('x', ahead, null, PAGE);
      assert.equal(page.historyBroken, null, 'a replica behind the position is not a log that went back');
      assert.equal(store.primaryReads, 1, 'the primary served it');
    } finally {
      await pair.replica.sql('start slave sql_thread');
    }
    await applied();
    await primaryKnex(tables.cursor).where({ cluster: 'flags', server_identity: 'x' }).update({ cold_boot_requested: true });
    await store.tick();
    await applied();
    assert.equal((await store.readPage('x', head, null, PAGE)).coldBootRequested, true, 'a later request is seen');
  });

  /** A started cache on the primary reading from the replica, with one recording refresher. */
  async function cacheOn(identity: string, options: Partial<ConstructorParameters<typeof DistributedCache>[0]> = {}) {
    const product = recorder();
    const cache = new DistributedCache({
      knex: primaryKnex,
      replicas: [replicaKnex],
      tablePrefix: PREFIX,
      serverIdentity: identity,
      refreshers: [product],
      syncInterval: 100,
      maxErrorBackoff: 300,
      queryTimeout: 3000,
      pruneSchedule: false,
      logger: silentLogger,
      ...options,
    });
    cache.on('sync:error', () => undefined);
    await cache.start();
    return { cache, product };
  }

  const has = (ids: readonly unknown[], id: number) => ids.includes(id);

  test('a cache with replicas delivers writes through the replica; health() lists it as ok', async (t) => {
    await replicaSettings(4, 'conservative');
    const writer = await cacheOn('w1');
    t.after(() => writer.cache.stop());
    const reader = await cacheOn('r1');
    t.after(() => reader.cache.stop());
    await writer.cache.refresh('product', [1]);
    await waitFor(() => has(reader.product.refreshedIds(), 1), { timeout: 10_000, describe: () => 'the reader gets id 1' });
    await waitFor(async () => (await reader.cache.health()).replicas?.[0]?.state === 'ok', { timeout: 5000 });
    const health = await reader.cache.health();
    assert.equal(health.healthy, true, health.problems.join('; '));
    assert.deepEqual(health.warnings, []);
  });

  test('a stopped replica (STOP SLAVE): delivery from the primary, health() says it is stopped, then it is used again', async (t) => {
    const writer = await cacheOn('w2', { maxReplicaLag: '1s' });
    t.after(() => writer.cache.stop());
    const reader = await cacheOn('r2', { maxReplicaLag: '1s' });
    t.after(() => reader.cache.stop());
    await pair.replica.sql('stop slave');
    t.after(() => pair.replica.sql('start slave'));
    await writer.cache.refresh('product', [2]);
    await waitFor(() => has(reader.product.refreshedIds(), 2), { timeout: 10_000, describe: () => 'the reader gets id 2' });
    await waitFor(async () => (await reader.cache.health()).replicas?.[0]?.state === 'stopped', {
      timeout: 10_000,
      describe: () => 'health() reports the stopped replica',
    });
    const health = await reader.cache.health();
    assert.match(health.warnings.join('\n'), /is passed over: its replication SQL thread is not running .*START REPLICA SQL_THREAD/);
    await pair.replica.sql('start slave');
    await writer.cache.refresh('product', [3]);
    await waitFor(() => has(reader.product.refreshedIds(), 3), { timeout: 10_000 });
    await waitFor(async () => (await reader.cache.health()).replicas?.[0]?.state === 'ok', { timeout: 15_000 });
  });

  test('parallel apply across two GTID domains cannot keep commit order: start refuses, and a store never reads the replica', async () => {
    await replicaSettings(4, 'optimistic');
    // A second replication domain on the primary, as an operator's ALTER TABLE in its own domain would make.
    await pair.primary.sql('set session gtid_domain_id = 7; create table dc.other_domain (id int primary key); drop table dc.other_domain');
    await applied();
    const cache = new DistributedCache({
      knex: primaryKnex,
      replicas: [replicaKnex],
      tablePrefix: PREFIX,
      serverIdentity: 'refused',
      logger: silentLogger,
    });
    await assert.rejects(cache.start(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_REPLICA_NOT_EXACT');
      assert.match(err.message, /slave_parallel_threads = 4 with slave_parallel_mode = optimistic .* domains 0, 7/);
      assert.match(err.message, /slave_parallel_threads = 0/);
      return true;
    });
    await cache.stop();
    // Set at run time (a store already reading): the replica is passed over, and health names why.
    const store = replicatedStore('refused');
    await store.tick();
    const head = await store.head();
    await store.readPage('refused', head, null, PAGE);
    assert.equal(store.primaryReads, 1);
    assert.equal(store.replicaReports[0]?.state, 'not-exact');
    assert.match(store.replicaReports[0]?.lastError ?? '', /E_REPLICA_NOT_EXACT/);
    // Serial apply is exact whatever the domains.
    await replicaSettings(0);
    // The replica rests for retryAfter after a refusal, then is checked again.
    await waitFor(
      async () => {
        await store.readPage('refused', head, null, PAGE);
        return store.replicaReports[0]?.state === 'ok';
      },
      { timeout: 5000, interval: 50, describe: () => JSON.stringify(store.replicaReports) },
    );
  });
});
