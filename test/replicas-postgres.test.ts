import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import knexFactory, { type Knex } from 'knex';
import type pg from 'pg';
import { DistributedCache, migrate } from '../src/index.js';
import { silentLogger } from '../src/logger.js';
import { postgresDialect } from '../src/dialects/postgres/dialect.js';
import type { ReplicatedStore } from '../src/dialects/postgres/replicated-store.js';
import { pageSql } from '../src/dialects/postgres/sql/page.js';
import { Ticker } from '../src/sync/ticker.js';
import { tableNames } from '../src/store/tables.js';
import { clusterAvailability, TcpProxy } from './support/pg-clusters.js';
import { createReplicaPair, waitStreaming, type PgServer } from './support/replica-pair.js';
import { recorder } from './support/recorder.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { waitFor } from './support/wait.js';

/**
 * Issue 25: reading from streaming replicas. One throwaway primary and one hot standby
 * (pg_basebackup -R, ports 5460-5461), shared by every test of this file and always dropped.
 */
checkLeaksAfterEach();

const skip = await clusterAvailability();
const PREFIX = 'rp_';
const tables = tableNames(PREFIX);
const PAGE = 50;

function knexFor(url: string): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: url, connectionTimeoutMillis: 2000 },
    pool: { min: 0, max: 6 },
    acquireConnectionTimeout: 3000,
    log: { warn: () => undefined, error: () => undefined, debug: () => undefined, deprecate: () => undefined },
  });
}

/** Runs `work` on one pooled pg connection: the page statement uses numbered parameters more than once. */
async function onConnection<T>(knex: Knex, work: (connection: pg.Client) => Promise<T>): Promise<T> {
  const connection = (await knex.client.acquireConnection()) as pg.Client;
  try {
    return await work(connection);
  } finally {
    await knex.client.releaseConnection(connection);
  }
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

describe('replicas on PostgreSQL: page targets from the primary tick, never from the standby', { skip, concurrency: false }, () => {
  let primary: PgServer;
  let standby: PgServer;
  let primaryKnex: Knex;
  let standbyKnex: Knex;

  /** Waits until the standby has replayed everything the primary has written so far. */
  async function replayed(): Promise<void> {
    const [row] = (await primaryKnex.raw('select pg_current_wal_insert_lsn()::text as lsn')).rows as Array<{ lsn: string }>;
    await waitFor(
      async () => (await standbyKnex.raw('select pg_last_wal_replay_lsn() >= ?::pg_lsn as ok', [row!.lsn])).rows[0].ok === true,
      { timeout: 20_000, describe: () => 'the standby replays the primary' },
    );
  }

  before(
    async () => {
      ({ primary, standby } = await createReplicaPair('rp', 5460));
      primaryKnex = knexFor(primary.url);
      standbyKnex = knexFor(standby.url);
      await migrate(primaryKnex, { tablePrefix: PREFIX });
      await replayed();
    },
    { timeout: 120_000 },
  );
  after(async () => {
    await primaryKnex?.destroy();
    await standbyKnex?.destroy();
    await primary?.drop();
    await standby?.drop();
  });

  function replicatedStore(cluster: string, maxReplicaLag = 60_000): ReplicatedStore {
    return postgresDialect.createReplicatedStore(
      { knex: primaryKnex, tables, cluster, queryTimeout: 10_000 },
      { replicas: [standbyKnex], maxReplicaLag, retryAfter: 200 },
    ) as ReplicatedStore;
  }

  /**
   * 8 writers commit out of order on the primary: each inserts, then holds its transaction open
   * (up to 300 ms, across many reader polls of 10 ms) before committing, and 5 % roll back. Each
   * commit is followed by a tick (as the Writer's after-commit hook does), and a ticker runs on
   * its own as the elected server's does. The reader polls `reader` with its position in memory.
   */
  async function race(cluster: string, reader: Reader, tick: () => Promise<void>): Promise<RaceResult> {
    const writerStore = postgresDialect.createStore({ knex: primaryKnex, tables, cluster, queryTimeout: 10_000 });
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
        const trx = await primaryKnex.transaction();
        const row = { json: JSON.stringify({ w, n }), originated: `w${w}`, originInstance: null, instructionCount: 1 };
        const [id] = await writerStore.insert([row], trx);
        // Workload pacing, not a wait for a condition: most transactions short, some held across many polls.
        await delay(Math.random() < 0.3 ? 50 + Math.random() * 250 : Math.random() * 10);
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
    await replayed();
    // Two full polls after the standby has everything: whatever is still missing is lost.
    const after = polls;
    await waitFor(() => polls >= after + 2 || readerError !== undefined, { timeout: 20_000 });
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

  test('8 out-of-order writers, transactions held across replica polls, 5 % rollbacks: readers on the replica lose nothing', async () => {
    const store = replicatedStore('race-tick');
    await store.tick();
    await replayed();
    const reader: Reader = {
      head: () => store.head(),
      read: (from, token) => store.readPage('reader', from, token, PAGE),
    };
    const result = await race('race-tick', reader, () => store.tick());
    console.log(`# replicas, tick targets: ${JSON.stringify(result)}`);
    assert.ok(result.committed > 200, `enough commits to mean something (${result.committed})`);
    assert.ok(result.rolledBack > 0, 'some transactions rolled back');
    assert.equal(result.lost, 0, 'lost');
    assert.equal(result.unexpected, 0, 'unexpected');
    assert.equal(result.duplicates, 0, 'duplicates');
    assert.equal(store.primaryReads, 0, 'every page was read on the replica');
  });

  test("the same race with the standby's own snapshot as the target loses rows (the race can fail)", async () => {
    const store = replicatedStore('race-own');
    // What a read-routing proxy or a naive "read from a replica" does: the primary's page statement, run on the standby.
    const text = pageSql(`"${tables.instruction}"`, `"${tables.cursor}"`, PAGE);
    const reader: Reader = {
      head: () => store.head(),
      read: async (from, token) => {
        const resume = token === null ? null : (JSON.parse(token) as [string, string, string]);
        const values = [from, resume?.[0] ?? null, resume?.[1] ?? '0', resume?.[2] ?? '0', 'race-own', 'naive'];
        const rows = await onConnection(standbyKnex, (c) => c.query(text, values));
        const found = (rows.rows as Array<Record<string, unknown>>).filter((r) => r.id != null);
        const full = found.length >= PAGE;
        const target = String((rows.rows[0] as Record<string, unknown>).target);
        const last = found[found.length - 1];
        return {
          rows: found.map((r) => ({ id: Number(r.id) })),
          token: full ? JSON.stringify([target, String(last!.txid), String(last!.id)]) : null,
          position: full ? null : target,
        };
      },
    };
    const result = await race('race-own', reader, () => store.tick());
    console.log(`# the standby's own snapshot: ${JSON.stringify(result)}`);
    assert.ok(result.lost > 0, `rows were lost (${JSON.stringify(result)})`);
  });

  /** A started cache on `knex` reading from `replicas`, with one recording refresher. */
  async function cacheOn(knex: Knex, identity: string, options: Partial<ConstructorParameters<typeof DistributedCache>[0]> = {}) {
    const product = recorder();
    const cache = new DistributedCache({
      knex,
      replicas: [standbyKnex],
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
    const boots: string[] = [];
    cache.on('server:cold-boot', (e) => boots.push(e.reason));
    cache.on('sync:error', () => undefined);
    await cache.start();
    return { cache, product, boots };
  }

  const has = (ids: readonly unknown[], id: number) => ids.includes(id);

  test('a cache with replicas delivers writes through the replica; health() lists it', async (t) => {
    const writer = await cacheOn(primaryKnex, 'w1');
    t.after(() => writer.cache.stop());
    const reader = await cacheOn(primaryKnex, 'r1');
    t.after(() => reader.cache.stop());
    await writer.cache.refresh('product', [1]);
    await waitFor(() => has(reader.product.refreshedIds(), 1), { timeout: 10_000, describe: () => 'the reader gets id 1' });
    await waitFor(async () => (await reader.cache.health()).replicas?.[0]?.state === 'ok', { timeout: 5000 });
    const health = await reader.cache.health();
    assert.equal(health.healthy, true, health.problems.join('; '));
    assert.equal(health.wakeUp, 'disabled', 'no listener on the primary: the replica poll is the wake-up');
  });

  test("a busy server's cursor is stored by its heartbeat, in the heartbeat's own transaction", async (t) => {
    const writer = await cacheOn(primaryKnex, 'w5');
    t.after(() => writer.cache.stop());
    const reader = await cacheOn(primaryKnex, 'r5', { heartbeatInterval: '300ms' });
    t.after(() => reader.cache.stop());
    const rowsOf = async () => {
      const [cursor] = (await primaryKnex(tables.cursor)
        .where({ cluster: 'default', server_identity: 'r5' })
        .select('position', 'last_synced')) as Array<{
        position: string;
        last_synced: Date;
      }>;
      const [server] = (await primaryKnex(tables.server)
        .where({ cluster: 'default', server_identity: 'r5' })
        .select('last_heartbeat')) as Array<{
        last_heartbeat: Date;
      }>;
      return { cursor: cursor!, server: server! };
    };
    const before = (await rowsOf()).cursor.position;
    for (const id of [7, 8, 9]) {
      await writer.cache.refresh('product', [id]);
      await waitFor(() => has(reader.product.refreshedIds(), id), { timeout: 10_000, describe: () => `the reader gets id ${id}` });
    }
    // The position moves at every poll (each tick is a new target), but the cursor is written
    // only once rows were read, and then by the heartbeat.
    await waitFor(async () => (await rowsOf()).cursor.position !== before, {
      timeout: 10_000,
      describe: () => 'a heartbeat stores the position past the rows',
    });
    // One transaction wrote both rows: now() is the transaction's start, the same in both.
    const { cursor, server } = await rowsOf();
    assert.equal(cursor.last_synced.getTime(), server.last_heartbeat.getTime());
  });

  test('a cache whose knex is a standby refuses to start, naming the likely cause; a poll there refuses too', async () => {
    const cache = new DistributedCache({ knex: standbyKnex, tablePrefix: PREFIX, serverIdentity: 'on-standby', logger: silentLogger });
    await assert.rejects(cache.start(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_PRIMARY_IS_STANDBY');
      assert.match(err.message, /replica|read-routing proxy/);
      return true;
    });
    await cache.stop();
    const store = postgresDialect.createStore({ knex: standbyKnex, tables, cluster: 'default', queryTimeout: 3000 });
    const head = await postgresDialect.createStore({ knex: primaryKnex, tables, cluster: 'default', queryTimeout: 3000 }).head();
    await assert.rejects(store.readPage('on-standby', head, null, 10), { code: 'E_PRIMARY_IS_STANDBY' });
  });

  test('a replica that stops replaying is passed over after maxReplicaLag: delivery from the primary, a warning in health()', async (t) => {
    const writer = await cacheOn(primaryKnex, 'w2', { maxReplicaLag: '1s' });
    t.after(() => writer.cache.stop());
    const reader = await cacheOn(primaryKnex, 'r2', { maxReplicaLag: '1s' });
    t.after(() => reader.cache.stop());
    await standby.sql('select pg_wal_replay_pause()');
    t.after(() => standby.sql('select pg_wal_replay_resume()'));
    await writer.cache.refresh('product', [2]);
    await waitFor(() => has(reader.product.refreshedIds(), 2), { timeout: 10_000, describe: () => 'the reader gets id 2' });
    const health = await reader.cache.health();
    assert.equal(health.replicas?.[0]?.state, 'lagging');
    assert.match(health.warnings.join('\n'), /is passed over: its newest tick is/);
    await standby.sql('select pg_wal_replay_resume()');
    await waitFor(async () => (await reader.cache.health()).replicas?.[0]?.state === 'ok', { timeout: 10_000 });
  });

  test('a stopped replica: reads go to the primary, health() says so, and the replica is used again once back', async (t) => {
    const writer = await cacheOn(primaryKnex, 'w3');
    t.after(() => writer.cache.stop());
    const reader = await cacheOn(primaryKnex, 'r3');
    t.after(() => reader.cache.stop());
    await standby.stop('fast');
    await writer.cache.refresh('product', [3]);
    await waitFor(() => has(reader.product.refreshedIds(), 3), { timeout: 10_000, describe: () => 'the reader gets id 3' });
    const health = await reader.cache.health();
    assert.equal(health.replicas?.[0]?.state, 'down');
    assert.match(health.warnings.join('\n'), /cannot be reached/);
    await standby.start();
    await waitStreaming(primary);
    await writer.cache.refresh('product', [4]);
    await waitFor(() => has(reader.product.refreshedIds(), 4), { timeout: 10_000 });
    await waitFor(async () => (await reader.cache.health()).replicas?.[0]?.state === 'ok', { timeout: 15_000 });
  });

  test('failover: the primary dies and the standby is promoted behind the same address; the reader delivers or cold-boots', async (t) => {
    const proxy = new TcpProxy(5462, primary.port);
    await proxy.start();
    t.after(() => proxy.stop());
    const viaProxy = knexFor('postgres://postgres@127.0.0.1:5462/postgres');
    t.after(() => viaProxy.destroy());
    const writer = await cacheOn(viaProxy, 'w4');
    t.after(() => writer.cache.stop());
    const reader = await cacheOn(viaProxy, 'r4');
    t.after(() => reader.cache.stop());
    await writer.cache.refresh('product', [5]);
    await waitFor(() => has(reader.product.refreshedIds(), 5), { timeout: 10_000 });
    const bootsBefore = reader.boots.length;
    await primary.stop('immediate');
    await standby.sql('select pg_promote(true, 30)');
    proxy.switchTo(standby.port);
    await waitFor(
      async () => {
        await writer.cache.refresh('product', [6]).catch(() => undefined);
        return has(reader.product.refreshedIds(), 6) || reader.boots.length > bootsBefore;
      },
      { timeout: 20_000, interval: 200, describe: () => 'the reader gets id 6 or cold-boots' },
    );
    const boots = reader.boots.slice(bootsBefore);
    console.log(`# failover: the reader got id 6: ${has(reader.product.refreshedIds(), 6)}; cold boots since: ${JSON.stringify(boots)}`);
    assert.ok(
      boots.every((b) => b === 'database-changed'),
      JSON.stringify(boots),
    );
  });
});
