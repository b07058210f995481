import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import knexFactory, { type Knex } from 'knex';
import { DistributedCache, migrate } from '../src/index.js';
import { Admin } from '../src/admin/index.js';
import { silentLogger } from '../src/logger.js';
import { postgresDialect } from '../src/dialects/postgres/dialect.js';
import { tableNames } from '../src/store/tables.js';
import { clusterAvailability } from './support/pg-clusters.js';
import { createReplicaPair, createStandby, waitStreaming, type PgServer } from './support/replica-pair.js';
import { recorder } from './support/recorder.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { waitFor } from './support/wait.js';

/**
 * Issue 25 with more than one standby: a throwaway primary (port 5465), two hot standbys made from
 * it (5466, 5467) and a cascading one made from the first (5468). Run under the replicas' port lock
 * (5460-5469); every cluster is dropped afterwards.
 */
checkLeaksAfterEach();

const skip = await clusterAvailability();
const PREFIX = 'rs_';
const tables = tableNames(PREFIX);

function knexFor(url: string): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: url, connectionTimeoutMillis: 2000 },
    pool: { min: 0, max: 6 },
    acquireConnectionTimeout: 3000,
    log: { warn: () => undefined, error: () => undefined, debug: () => undefined, deprecate: () => undefined },
  });
}

describe('replicas on PostgreSQL: two standbys and a cascading one; counts read on a replica', { skip, concurrency: false }, () => {
  let primary: PgServer;
  let a: PgServer;
  let b: PgServer;
  let c: PgServer;
  let primaryKnex: Knex;
  let aKnex: Knex;
  let bKnex: Knex;
  let cKnex: Knex;

  /** Waits until `standby` has replayed everything the primary has written so far. */
  async function replayed(standby: Knex): Promise<void> {
    const [row] = (await primaryKnex.raw('select pg_current_wal_insert_lsn()::text as lsn')).rows as Array<{ lsn: string }>;
    await waitFor(async () => (await standby.raw('select pg_last_wal_replay_lsn() >= ?::pg_lsn as ok', [row!.lsn])).rows[0].ok === true, {
      timeout: 20_000,
      describe: () => 'the standby replays the primary',
    });
  }

  before(
    async () => {
      ({ primary, standby: a } = await createReplicaPair('rs', 5465));
      b = await createStandby('rs_b', 5467, primary);
      c = await createStandby('rs_c', 5468, a);
      await waitStreaming(primary, 2);
      await waitStreaming(a, 1);
      [primaryKnex, aKnex, bKnex, cKnex] = [primary, a, b, c].map((s) => knexFor(s.url)) as [Knex, Knex, Knex, Knex];
      await migrate(primaryKnex, { tablePrefix: PREFIX });
      for (const standby of [aKnex, bKnex, cKnex]) await replayed(standby);
    },
    { timeout: 180_000 },
  );
  after(async () => {
    for (const k of [primaryKnex, aKnex, bKnex, cKnex]) await k?.destroy();
    for (const s of [c, b, a, primary]) await s?.drop();
  });

  /** A started cache reading from `replicas`, with one recording refresher. */
  async function cacheOn(identity: string, replicas: Knex[], options: Partial<ConstructorParameters<typeof DistributedCache>[0]> = {}) {
    const product = recorder();
    const cache = new DistributedCache({
      knex: primaryKnex,
      replicas,
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

  const pendingOf = async (admin: Admin, identity: string) =>
    (await admin.pendingCounts()).servers.find((s) => s.identity === identity)?.pendingRows;

  test('pending counts of status and health() are read on a replica whose tick is young, else on the primary', async (t) => {
    const writer = await cacheOn('w1', [aKnex]);
    t.after(() => writer.cache.stop());
    const reader = await cacheOn('r1', [aKnex]);
    t.after(() => reader.cache.stop());
    const stopped = await cacheOn('s1', [aKnex]);
    t.after(() => stopped.cache.stop());
    await writer.cache.refresh('product', [1]);
    await waitFor(() => reader.product.refreshedIds().includes(1) && stopped.product.refreshedIds().includes(1), {
      timeout: 10_000,
      describe: () => 'both readers get id 1',
    });
    await stopped.cache.stop();
    await replayed(aKnex);
    // Standby A stops replaying: from now on what it shows differs from the primary by the rows below.
    await a.sql('select pg_wal_replay_pause()');
    t.after(() => a.sql('select pg_wal_replay_resume()'));
    for (const id of [2, 3, 4]) await writer.cache.refresh('product', [id]);

    const onPrimary = new Admin({ knex: primaryKnex, tablePrefix: PREFIX });
    const onReplica = new Admin({ knex: primaryKnex, tablePrefix: PREFIX, replicas: [aKnex], maxReplicaLag: 60_000 });
    assert.equal(await pendingOf(onPrimary, 's1'), 3, 'the primary counts the three rows s1 has not applied');
    assert.equal(await pendingOf(onReplica, 's1'), 0, 'counted on standby A, which has not replayed them');
    const [onA, onP] = await Promise.all([onReplica.status({ all: true }), onPrimary.status({ all: true })]);
    assert.equal(onP.log.rows - onA.log.rows, 3, "status's log summary is read on the standby too");
    assert.equal(onA.servers.find((s) => s.identity === 's1')?.pendingRows, 0);

    // health() of a running reader: its pending count comes from A as well.
    const position = (reader.cache as unknown as { poller: { appliedPosition: string } }).poller.appliedPosition;
    const primaryStore = postgresDialect.createStore({ knex: primaryKnex, tables, cluster: 'default', queryTimeout: 5000 });
    assert.equal((await primaryStore.pending(position)).rows, 3, 'the reader has not seen them: A serves its pages');
    const health = await reader.cache.health();
    assert.equal(health.pendingRows, 0, 'health() counted on standby A');
    assert.equal(health.replicas?.[0]?.state, 'ok');

    // A replica whose tick is older than maxReplicaLag is passed over: the primary counts.
    const strict = new Admin({ knex: primaryKnex, tablePrefix: PREFIX, replicas: [aKnex], maxReplicaLag: 300 });
    await waitFor(async () => (await pendingOf(strict, 's1')) === 3, {
      timeout: 10_000,
      describe: () => 'the lagging standby is passed over',
    });

    await a.sql('select pg_wal_replay_resume()');
    await waitFor(async () => (await pendingOf(onReplica, 's1')) === 3, { timeout: 20_000, describe: () => 'A replays the rows' });
  });

  test('readers spread over two standbys and a cascading one; stopping a standby loses nothing', async (t) => {
    const writer = await cacheOn('w2', [aKnex]);
    t.after(() => writer.cache.stop());
    const readers = [
      { name: 'r-ab', ...(await cacheOn('r-ab', [aKnex, bKnex], { maxReplicaLag: '1s' })) },
      { name: 'r-ba', ...(await cacheOn('r-ba', [bKnex, aKnex], { maxReplicaLag: '1s' })) },
      { name: 'r-cb', ...(await cacheOn('r-cb', [cKnex, bKnex], { maxReplicaLag: '1s' })) },
    ];
    for (const r of readers) t.after(() => r.cache.stop());
    const written: number[] = [];
    const writeSome = async (from: number, count: number) => {
      for (let id = from; id < from + count; id++) {
        await writer.cache.refresh('product', [id]);
        written.push(id);
      }
    };
    const allDelivered = () =>
      waitFor(() => readers.every((r) => written.every((id) => r.product.refreshedIds().includes(id))), {
        timeout: 20_000,
        describe: () =>
          readers.map((r) => `${r.name}: ${written.filter((id) => !r.product.refreshedIds().includes(id)).join(',')}`).join('; '),
      });
    await writeSome(100, 10);
    await allDelivered();
    // Each reader's first replica served it: A, B, and the cascading C.
    for (const r of readers) {
      await waitFor(async () => (await r.cache.health()).replicas?.[0]?.state === 'ok', {
        timeout: 10_000,
        describe: () => `${r.name} reads its first replica`,
      });
    }

    await a.stop('fast');
    try {
      await writeSome(200, 20);
      await allDelivered();
      // r-ab found A down and read B; C, cut off from A, stopped replaying and r-cb passed it over.
      const ab = (await readers[0]!.cache.health()).replicas!;
      assert.equal(ab[0]!.state, 'down');
      assert.equal(ab[1]!.state, 'ok', 'B served r-ab');
      const cb = (await readers[2]!.cache.health()).replicas!;
      assert.notEqual(cb[0]!.state, 'ok', 'C replays nothing while A is down');
    } finally {
      await a.start();
    }
    await waitStreaming(primary, 2);
    await writeSome(300, 5);
    await allDelivered();
    await waitFor(async () => (await readers[2]!.cache.health()).replicas?.[0]?.state === 'ok', {
      timeout: 20_000,
      describe: () => 'C streams from A again and serves r-cb',
    });
    for (const r of readers) {
      const ids = r.product.refreshedIds().filter((id) => written.includes(id as number));
      assert.equal(new Set(ids).size, written.length, `${r.name}: every row, none lost`);
    }
  });
});
