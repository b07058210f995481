import assert from 'node:assert/strict';
import { test } from 'node:test';
import knexFactory from 'knex';
import { DistributedCache, migrate } from '../src/index.js';
import { silentLogger } from '../src/logger.js';
import { availability, dropPrefixed, freshPrefix, PG_URL } from './support/databases.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { ManualClock } from './support/regions.js';
import { waitFor } from './support/wait.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/**
 * "The database is down": the application and its cache reach PostgreSQL through a proxy the test
 * takes down. Reads keep answering from grace (counted), every read fails once grace is over, and
 * when the database comes back the region loads and the cache syncs again.
 */
// knex logs every refused connection; the test asserts on them through the region and the poller instead.
const quiet = { warn() {}, error() {}, debug() {}, deprecate() {} };

test('the database is down: a region answers from grace, then recovers when the database comes back', async (t) => {
  const skip = await availability('postgres');
  if (skip) return t.skip(skip);
  const url = new URL(PG_URL);
  const proxy = new TcpProxy(url.hostname, Number(url.port || 5432));
  await proxy.up();
  const direct = knexFactory({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 2 } });
  const prefix = freshPrefix();
  await migrate(direct, { tablePrefix: prefix });
  await direct.schema.createTable(`${prefix}app_data`, (tb) => {
    tb.integer('id').primary();
    tb.text('name');
  });
  await direct(`${prefix}app_data`).insert([
    { id: 1, name: 'one' },
    { id: 2, name: 'two' },
  ]);
  const viaProxy = new URL(PG_URL);
  viaProxy.port = String(proxy.port);
  const knex = knexFactory({
    client: 'pg',
    connection: viaProxy.toString(),
    pool: { min: 0, max: 4 },
    acquireConnectionTimeout: 2000,
    log: quiet,
  });
  const cache = new DistributedCache({
    knex,
    tablePrefix: prefix,
    serverIdentity: 'web-1',
    syncInterval: 50,
    maxErrorBackoff: 200,
    queryTimeout: 1000,
    pruneSchedule: false,
    logger: silentLogger,
  });
  t.after(async () => {
    await cache.stop();
    await knex.destroy();
    await proxy.down();
    await dropPrefixed(direct, prefix);
    await direct.destroy();
  });
  const clock = new ManualClock();
  const rows = cache.region<{ name: string }>('row', {
    load: async (id) => {
      const row = await knex(`${prefix}app_data`).where({ id }).first('name');
      return row ? { name: row.name } : undefined;
    },
    ttl: '1m',
    grace: '1h',
    clock,
  });
  const syncErrors: number[] = [];
  cache.on('sync:error', (e) => syncErrors.push(e.consecutiveFailures));
  await cache.start();
  assert.deepEqual(await rows.get(1), { name: 'one' });
  assert.deepEqual(await rows.get(2), { name: 'two' });

  await proxy.down();
  clock.advance(2 * 60_000); // both entries are past their ttl, inside grace
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await rows.get(1), { name: 'one' }, 'served from grace while the database is down');
    assert.deepEqual(await rows.get(2), { name: 'two' });
  }
  await assert.rejects(rows.get(3), 'a key never cached has nothing to fall back on: the error reaches the caller');
  const down = rows.stats();
  assert.equal(down.servedFromGrace, 6);
  assert.equal(down.loadErrors, 7);
  await waitFor(() => syncErrors.length > 0, { describe: () => 'the poller should report the database as down' });
  clock.advance(2 * 3600_000); // grace is over too
  await assert.rejects(rows.get(1));

  await proxy.up();
  await waitFor(
    async () =>
      await rows.get(1).then(
        () => true,
        () => false,
      ),
    { timeout: 15_000, describe: () => 'the region should load again once the database is back' },
  );
  assert.deepEqual(await rows.get(1), { name: 'one' });
  // The cache is syncing again: a write from another server (the direct connection) reaches it.
  await direct(`${prefix}app_data`).where({ id: 1 }).update({ name: 'uno' });
  const other = new DistributedCache({
    knex: direct,
    tablePrefix: prefix,
    serverIdentity: 'web-2',
    pruneSchedule: false,
    notify: false,
    logger: silentLogger,
  });
  other.region('row', {});
  await other.start();
  await other.refresh('row', [1]);
  await other.stop();
  await waitFor(() => rows.peek(1) === undefined, { timeout: 15_000, describe: () => 'the refresh should reach the recovered server' });
  assert.deepEqual(await rows.get(1), { name: 'uno' });
});
