import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import knexFactory from 'knex';
import { harness } from './conformance/harness.js';
import { DistributedCache, encodeInstructions, silentLoggerForTests, type CacheRefresher } from './conformance/exports.js';
import { waitFor } from './support/wait.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { queriesInFlight } from '../src/open-resources.js';

checkLeaksAfterEach();

/** A TCP listener that accepts connections and never answers: a hung database, as the client sees it. */
async function silentDatabase() {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const MARGIN = 500;
const QUIET = { warn() {}, error() {}, debug() {}, deprecate() {} };

describe('stop() honours stopTimeout in every state', () => {
  test(
    'during a 50,000-row catch-up: stop() returns within stopTimeout + a small margin, and the catch-up sends no further query',
    { timeout: 120_000 },
    async (t) => {
      const h = await harness(t, 'sqlite');
      // A stored cursor, then 50,000 rows past it: the next start catches up instead of cold-booting.
      const first = h.cache({ serverIdentity: 'late', refreshers: [{ id: 'product', refreshAll() {} }], startFromHead: true });
      await first.start();
      await first.stop();
      const rows = Array.from({ length: 50_000 }, (_, i) => ({
        json_instruction: encodeInstructions([{ refresher: 'product', kind: 'refresh', ids: [i + 1] }]),
        originated: 'backlog',
        origin_instance: null,
        instruction_count: 1,
        cluster: 'default',
      }));
      for (let i = 0; i < rows.length; i += 400) await h.knex(h.table('cache_instruction')).insert(rows.slice(i, i + 400));
      let applied = 0;
      // A slow refresher, as a real one that reloads from a database: the catch-up takes many seconds.
      const product: CacheRefresher = {
        id: 'product',
        refreshAll() {},
        async refresh(ids) {
          await delay(1500);
          applied += ids.length;
        },
      };
      const cache = h.cache({
        serverIdentity: 'late',
        refreshers: [product],
        maxPendingInstructions: 1_000_000,
        stopTimeout: 1000,
        pageSize: 500,
      });
      const starting = cache.start();
      await waitFor(async () => (await cache.health()).problems.some((p) => p.includes('catching up')));
      const health = await cache.health();
      assert.equal(health.state, 'starting');
      assert.match(health.problems.join('; '), /the cache is starting: catching up with the instruction log, for \d+\.\d s/);
      const began = performance.now();
      await cache.stop();
      const took = performance.now() - began;
      t.diagnostic(`stop() took ${took.toFixed(0)} ms with stopTimeout 1000 ms; ${applied} of 50000 applied by then`);
      assert.ok(took <= 1000 + MARGIN, `stop() took ${took.toFixed(0)} ms`);
      assert.ok(applied < 50_000, 'stopped before the catch-up finished');
      const queries: string[] = [];
      const count = (q: { sql: string }) => queries.push(q.sql);
      h.knex.on('query', count);
      // start() ends once the refresher call in flight returns: its next query is refused.
      await starting;
      h.knex.off('query', count);
      assert.deepEqual(queries, [], 'the catch-up sent no query after stop() resolved');
      assert.equal((await cache.health()).state, 'stopped');
    },
  );

  test(
    'during a cold boot whose refreshAll() takes long: stop() returns within stopTimeout + a small margin, and the cursor is ' +
      'not stored after it',
    { timeout: 60_000 },
    async (t) => {
      const h = await harness(t, 'sqlite');
      const writer = h.cache({ serverIdentity: 'writer', refreshers: [{ id: 'product', refreshAll() {}, refresh() {} }] });
      await writer.start();
      await writer.refresh('product', [1]);
      let reloads = 0;
      // No stored cursor and a non-empty log: this server cold-boots, reloading everything slowly.
      const product: CacheRefresher = {
        id: 'product',
        async refreshAll() {
          await delay(3000);
          reloads += 1;
        },
      };
      const cache = h.cache({ serverIdentity: 'cold', refreshers: [product], stopTimeout: 1000 });
      const starting = cache.start();
      await waitFor(async () => (await cache.health()).problems.some((p) => p.includes('catching up')));
      const began = performance.now();
      await cache.stop();
      const took = performance.now() - began;
      assert.ok(took <= 1000 + MARGIN, `stop() took ${took.toFixed(0)} ms with stopTimeout 1000 ms during a cold boot`);
      await starting;
      assert.equal(reloads, 1, 'the reload in flight ran to its end (user code cannot be cancelled)');
      const cursor = await h.knex(h.table('cache_cursor')).where({ server_identity: 'cold' }).first();
      assert.equal(cursor, undefined, 'the cold boot did not store a cursor after stop(): the next start cold-boots again');
    },
  );

  test(
    'while a prune rests between chunks: stop() ends the rest at once, and the prune rejects with E_STOPPED',
    { timeout: 60_000 },
    async (t) => {
      const h = await harness(t, 'sqlite');
      // A duty cycle this small rests thousands of times as long as each chunk took: seconds at least.
      const cache = h.cache({
        serverIdentity: 'pruner',
        refreshers: [{ id: 'product', refreshAll() {} }],
        retention: '1s',
        pruneChunkSize: 5,
        pruneDutyCycle: 0.0001,
        stopTimeout: 1000,
      });
      await cache.start();
      // Older than maxRetention too, so they go whatever this server has read.
      const old = new Date(Date.now() - 30 * 24 * 3_600_000).toISOString().replace('T', ' ').replace('Z', '');
      const rows = Array.from({ length: 20 }, (_, i) => ({
        json_instruction: encodeInstructions([{ refresher: 'product', kind: 'refresh', ids: [i + 1] }]),
        originated: 'old',
        origin_instance: null,
        instruction_count: 1,
        cluster: 'default',
        utc_stamp: old,
      }));
      await h.knex(h.table('cache_instruction')).insert(rows);
      const count = async () => Number((await h.knex(h.table('cache_instruction')).count({ n: '*' }))[0]!.n);
      const pruning = cache.prune();
      let left = 0;
      await waitFor(async () => (left = await count()) === 15, { describe: () => `rows left: ${left}` });
      const began = performance.now();
      await cache.stop();
      const took = performance.now() - began;
      await assert.rejects(pruning, { code: 'E_STOPPED' });
      assert.ok(took <= MARGIN, `stop() took ${took.toFixed(0)} ms while a prune rested between chunks`);
      assert.equal(await count(), 15, 'no chunk was deleted after stop()');
    },
  );

  test(
    'against a database that accepts TCP and never answers: start() and stop() are bounded, and health() says what start is waiting for',
    { timeout: 30_000 },
    async (t) => {
      const db = await silentDatabase();
      t.after(() => db.close());
      // The pool's own timeouts are the application's; distcache bounds its waits by queryTimeout.
      const knex = knexFactory({
        client: 'pg',
        connection: { host: '127.0.0.1', port: db.port, user: 'x', database: 'x' },
        acquireConnectionTimeout: 60_000,
        log: QUIET,
      });
      const cache = new DistributedCache({
        knex,
        serverIdentity: 'hung',
        queryTimeout: 1000,
        stopTimeout: 1000,
        notify: false,
        pruneSchedule: false,
        logger: silentLoggerForTests,
      });
      const began = performance.now();
      const starting = cache.start();
      await waitFor(async () => (await cache.health()).problems.some((p) => p.includes('first heartbeat')));
      const during = await cache.health();
      assert.equal(during.state, 'starting');
      assert.equal(during.healthy, false);
      assert.match(during.problems.join('; '), /the cache is starting: registering this server \(first heartbeat\), for \d+\.\d s/);
      await starting;
      const startTook = performance.now() - began;
      // The first heartbeat and the first poll each give up after queryTimeout; start() resolves,
      // and the loops retry in the background, as for any database that is down.
      assert.ok(startTook <= 3 * 1000, `start() took ${startTook.toFixed(0)} ms with queryTimeout 1000 ms`);
      const report = await cache.health();
      assert.equal(report.state, 'started');
      assert.match(report.lastError?.message ?? '', /E_QUERY_TIMEOUT|timeout/i);
      const stopBegan = performance.now();
      await cache.stop();
      const stopTook = performance.now() - stopBegan;
      t.diagnostic(`start() ${startTook.toFixed(0)} ms, stop() ${stopTook.toFixed(0)} ms against a silent database`);
      assert.ok(stopTook <= 1000 + MARGIN, `stop() took ${stopTook.toFixed(0)} ms with stopTimeout 1000 ms`);
      // Closing the pool ends the connection attempts the abandoned queries were waiting on.
      await db.close();
      await knex.destroy();
      await waitFor(() => queriesInFlight() === 0, { describe: () => `${queriesInFlight()} queries in flight` });
    },
  );

  test('stop() while start() is still connecting to a silent database is bounded too', { timeout: 30_000 }, async (t) => {
    const db = await silentDatabase();
    t.after(() => db.close());
    const knex = knexFactory({ client: 'pg', connection: { host: '127.0.0.1', port: db.port, user: 'x', database: 'x' }, log: QUIET });
    const cache = new DistributedCache({
      knex,
      serverIdentity: 'hung',
      queryTimeout: 5000,
      stopTimeout: 1000,
      notify: false,
      pruneSchedule: false,
      logger: silentLoggerForTests,
    });
    const starting = cache.start();
    await waitFor(async () => (await cache.health()).state === 'starting');
    const began = performance.now();
    await cache.stop();
    const took = performance.now() - began;
    assert.ok(took <= 1000 + MARGIN, `stop() took ${took.toFixed(0)} ms with stopTimeout 1000 ms while connecting`);
    await starting.catch(() => undefined);
    assert.equal((await cache.health()).state, 'stopped');
    await db.close();
    await knex.destroy();
    await waitFor(() => queriesInFlight() === 0, { describe: () => `${queriesInFlight()} queries in flight` });
  });
});
