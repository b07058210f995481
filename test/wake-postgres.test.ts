import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { harness, type Harness } from './conformance/harness.js';
import { encodeInstructions, silentLoggerForTests, tableNames, type DistributedCache } from './conformance/exports.js';
import { availability, DATABASES, PG_URL } from './support/databases.js';
import { recorder, type RecordingRefresher } from './support/recorder.js';
import { waitFor } from './support/wait.js';
import { notifyChannel, openListenerCount, PostgresWakeSource, type PostgresWakeOptions } from '../src/dialects/wake-sources.js';
import { dialectFor } from '../src/dialects/dialect.js';
import { mysqlDialect } from '../src/dialects/mysql/dialect.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const skip = await availability('postgres');
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** A wake source for `cache`, wired the way DistributedCache wires it: a wake polls. */
async function attach(t: TestContext, h: Harness, cache: DistributedCache, options: PostgresWakeOptions & { knex?: Knex } = {}) {
  const source = new PostgresWakeSource(
    {
      knex: options.knex ?? h.knex,
      tables: tableNames(h.prefix),
      cluster: cache.options.cluster,
      logger: silentLoggerForTests,
      queryTimeout: 5000,
    },
    options,
  );
  const wakes = { count: 0 };
  t.after(() => source.stop());
  await source.start(() => {
    wakes.count += 1;
    cache.sync().catch(() => undefined);
  });
  return { source, wakes };
}

/** A row written with plain SQL, as another program would: no NOTIFY. */
async function plainInsert(h: Harness, id: number, cluster = 'default'): Promise<void> {
  await h.knex(h.table('cache_instruction')).insert({
    json_instruction: encodeInstructions([{ refresher: 'product', kind: 'refresh', ids: [id] }]),
    originated: 'plain-sql',
    origin_instance: null,
    instruction_count: 1,
    cluster,
  });
}

async function started(
  h: Harness,
  identity: string,
  refresher: RecordingRefresher,
  options: { syncInterval?: number; cluster?: string } = {},
) {
  const cache = h.cache({
    serverIdentity: identity,
    refreshers: [refresher],
    syncInterval: options.syncInterval ?? 60_000,
    cluster: options.cluster,
  });
  await cache.start();
  return cache;
}

const has = (r: RecordingRefresher, id: number) => () => r.refreshedIds().includes(id);

describe('postgres wake-up: LISTEN/NOTIFY', { skip }, () => {
  test('the channel fits in 63 bytes and differs per table prefix and cluster', () => {
    assert.equal(notifyChannel('', 'default'), 'distcache::default');
    assert.notEqual(notifyChannel('a_', 'x'), notifyChannel('a', '_x'));
    assert.notEqual(notifyChannel('', 'one'), notifyChannel('', 'two'));
    const long = notifyChannel('p'.repeat(32), 'C'.repeat(64));
    assert.ok(Buffer.byteLength(long) <= 63, long);
    assert.notEqual(long, notifyChannel('p'.repeat(32), `${'C'.repeat(63)}D`));
  });

  test('the dialect declares the wake-up: LISTEN/NOTIFY on PostgreSQL, none on MySQL', async (t) => {
    const h = await harness(t, 'postgres');
    const source = dialectFor(h.knex).createWakeSource?.({
      knex: h.knex,
      tables: tableNames(h.prefix),
      cluster: 'default',
      logger: silentLoggerForTests,
      queryTimeout: 5000,
    });
    assert.ok(source instanceof PostgresWakeSource);
    assert.equal(source.kind, 'postgres-notify');
    await source.stop(); // never started: nothing to release
    assert.equal(mysqlDialect.createWakeSource, undefined, 'MySQL/MariaDB: polling only');
  });

  test('a commit in another process wakes this one long before the poll interval', async (t) => {
    const h = await harness(t, 'postgres');
    const onB = recorder();
    const b = await started(h, 'b', onB);
    const { source } = await attach(t, h, b);
    assert.ok(source.listening);
    // The writer is another process: its DistributedCache writes, then its wake source sends the NOTIFY.
    const code = `
      import knexFactory from 'knex';
      import { DistributedCache, tableNames } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
      import { PostgresWakeSource } from ${JSON.stringify(new URL('../src/dialects/wake-sources.js', import.meta.url).href)};
      import { silentLogger } from ${JSON.stringify(new URL('../src/logger.js', import.meta.url).href)};
      const knex = knexFactory({ client: 'pg', connection: ${JSON.stringify(PG_URL)} });
      const refresher = { id: 'product', refreshAll() {}, refresh() {} };
      const cache = new DistributedCache({
        knex, tablePrefix: ${JSON.stringify(h.prefix)}, serverIdentity: 'writer',
        refreshers: [refresher], logger: silentLogger, pruneSchedule: false,
      });
      const wake = new PostgresWakeSource({
        knex, tables: tableNames(${JSON.stringify(h.prefix)}), cluster: 'default', logger: silentLogger, queryTimeout: 5000,
      });
      await wake.start(() => {});
      await cache.refresh('product', [7]);
      wake.notifyCommitted();
      const deadline = Date.now() + 10_000;
      while (wake.stats.notifiesSent < 1) {
        if (Date.now() > deadline) throw new Error('the wake source sent no NOTIFY within 10 s');
        await new Promise((r) => setTimeout(r, 5));
      }
      await wake.stop();
      await knex.destroy();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    t.after(() => child.kill());
    // The interval is 60 s: only the wake-up can deliver this within the deadline.
    await waitFor(has(onB, 7), { timeout: 5000, describe: () => JSON.stringify(onB.calls) });
    assert.equal(await exited, 0);
    assert.ok((source.stats?.notificationsReceived ?? 0) >= 1);
  });

  test('one listener session per process, shared by caches and clusters, closed by the last stop', async (t) => {
    const h = await harness(t, 'postgres');
    const before = openListenerCount();
    const other = knexFactory(DATABASES.postgres.config());
    t.after(() => other.destroy());
    const a = await started(h, 'a', recorder());
    const b = await started(h, 'b', recorder(), { cluster: 'blue' });
    const c = h.cache({ serverIdentity: 'c', refreshers: [recorder()], knex: other });
    await c.start();
    const sources = [(await attach(t, h, a)).source, (await attach(t, h, b)).source, (await attach(t, h, c, { knex: other })).source];
    assert.equal(openListenerCount(), before + 1, 'knex instances with the same settings share one listener');
    const pid = sources[0]!.listenerPid;
    assert.ok(pid);
    for (const s of sources) assert.equal(s.listenerPid, pid);
    const listens = async () => {
      const rows = await h.knex.raw('select count(*)::int as n from pg_stat_activity where pid = ?', [pid]);
      return (rows.rows[0] as { n: number }).n;
    };
    assert.equal(await listens(), 1);
    await sources[0]!.stop();
    await sources[1]!.stop();
    assert.equal(openListenerCount(), before + 1, 'still in use by the third cache');
    await Promise.all([sources[2]!.stop(), sources[2]!.stop()]);
    assert.equal(openListenerCount(), before);
    await waitFor(async () => (await listens()) === 0, { describe: () => `backend ${pid} still connected` });
  });

  test('a NOTIFY wakes only the caches of its cluster, and its sender is not woken by its own echo', async (t) => {
    const h = await harness(t, 'postgres');
    const red = await started(h, 'red', recorder(), { cluster: 'red' });
    const blue = await started(h, 'blue', recorder(), { cluster: 'Blue.Team-2' });
    const wRed = await attach(t, h, red);
    const wBlue = await attach(t, h, blue);
    const raw = new pg.Client({ connectionString: PG_URL });
    await raw.connect();
    t.after(() => raw.end());
    const blueBefore = wBlue.wakes.count;
    const redBefore = wRed.wakes.count;
    await raw.query('select pg_notify($1, $2)', [notifyChannel(h.prefix, 'Blue.Team-2'), '']);
    await waitFor(() => wBlue.wakes.count > blueBefore);
    assert.equal(wRed.wakes.count, redBefore, 'red was not woken by blue');
    // Red's own NOTIFY comes back to the shared session, and is ignored there.
    wRed.source.notifyCommitted();
    await waitFor(() => (wRed.source.stats?.notifiesSent ?? 0) >= 1);
    // Notifications arrive in commit order: once this one is heard, the echo was too.
    await raw.query('select pg_notify($1, $2)', [notifyChannel(h.prefix, 'Blue.Team-2'), '']);
    await waitFor(() => wBlue.wakes.count > blueBefore + 1);
    assert.equal(wRed.wakes.count, redBefore, 'its own NOTIFY does not wake the sender');
  });

  test('a commit wakes the other caches of the same process at once, without a round trip', async (t) => {
    const h = await harness(t, 'postgres');
    const onA = recorder();
    const onB = recorder();
    const a = await started(h, 'a', onA);
    const b = await started(h, 'b', onB);
    const wa = await attach(t, h, a);
    const wb = await attach(t, h, b);
    const before = wb.wakes.count;
    await a.refresh('product', [3]);
    wa.source.notifyCommitted();
    assert.equal(wb.wakes.count, before + 1, 'woken synchronously');
    await waitFor(has(onB, 3));
  });

  test('NOTIFYs are coalesced per process: a burst of 1,000 commits sends two', async (t) => {
    const h = await harness(t, 'postgres');
    const a = await started(h, 'a', recorder());
    const { source } = await attach(t, h, a);
    const raw = new pg.Client({ connectionString: PG_URL });
    await raw.connect();
    t.after(() => raw.end());
    let heard = 0;
    raw.on('notification', () => heard++);
    await raw.query(`listen "${notifyChannel(h.prefix, 'default')}"`);
    for (let i = 0; i < 1000; i++) source.notifyCommitted();
    // One in flight, one pending behind it (it may have gone out before the last commit).
    await waitFor(() => source.stats!.notifiesSent === 2 && heard >= 1, {
      describe: () => `sent ${source.stats!.notifiesSent}, heard ${heard}`,
    });
    source.notifyCommitted();
    await waitFor(() => source.stats!.notifiesSent === 3, { describe: () => `sent ${source.stats!.notifiesSent}` });
    assert.ok(heard >= 1 && heard <= 3);
  });

  test('killing the listener session: it reconnects, LISTENs, polls, and wakes again', async (t) => {
    const h = await harness(t, 'postgres');
    const onB = recorder();
    const b = await started(h, 'b', onB);
    // A slow first retry leaves a window in which the listener is certainly down.
    const { source, wakes } = await attach(t, h, b, { reconnectBase: 1500 });
    const pid = source.listenerPid;
    assert.ok(pid);
    const wakesBefore = wakes.count;
    await h.knex.raw('select pg_terminate_backend(?)', [pid]);
    // No NOTIFY for this row: only the poll that follows the reconnect can deliver it (the interval is 60 s).
    await plainInsert(h, 11);
    await waitFor(() => source.listening && source.listenerPid !== pid, { timeout: 10_000, describe: () => `pid ${source.listenerPid}` });
    await waitFor(has(onB, 11), { timeout: 5000, describe: () => JSON.stringify(onB.calls) });
    assert.ok(wakes.count > wakesBefore);
    assert.ok(source.stats!.connects >= 2);
    // And NOTIFYs reach it again.
    const raw = new pg.Client({ connectionString: PG_URL });
    await raw.connect();
    t.after(() => raw.end());
    await plainInsert(h, 12);
    await raw.query('select pg_notify($1, $2)', [notifyChannel(h.prefix, 'default'), '']);
    await waitFor(has(onB, 12), { timeout: 5000 });
  });

  test('a plain SQL insert, which sends no NOTIFY, is still delivered by the poll interval', async (t) => {
    const h = await harness(t, 'postgres');
    const onB = recorder();
    const b = await started(h, 'b', onB, { syncInterval: 200 });
    const { source } = await attach(t, h, b);
    const heard = source.stats!.notificationsReceived;
    await plainInsert(h, 21);
    await waitFor(has(onB, 21), { timeout: 5000 });
    assert.equal(source.stats!.notificationsReceived, heard, 'no NOTIFY was involved');
  });

  test('start and stop are idempotent, also concurrently; nothing runs after stop', async (t) => {
    const h = await harness(t, 'postgres');
    const before = openListenerCount();
    const source = new PostgresWakeSource({
      knex: h.knex,
      tables: tableNames(h.prefix),
      cluster: 'default',
      logger: silentLoggerForTests,
      queryTimeout: 5000,
    });
    let wakes = 0;
    await Promise.all([source.start(() => wakes++), source.start(() => wakes++)]);
    assert.equal(wakes, 1, 'one start, one wake after LISTEN');
    assert.equal(openListenerCount(), before + 1);
    await Promise.all([source.stop(), source.stop()]);
    await source.stop();
    assert.equal(source.listening, false);
    source.notifyCommitted(); // a no-op, never a throw
    await source.start(() => wakes++);
    assert.equal(openListenerCount(), before);
    assert.equal(wakes, 1);
  });

  test('start() does not wait for a database that is down, and retries in the background', async (t) => {
    // A port nobody listens on: connecting fails at once.
    const down = knexFactory({ client: 'pg', connection: 'postgres://postgres@127.0.0.1:1/test', pool: { min: 0, max: 1 } });
    t.after(() => down.destroy());
    const errors: number[] = [];
    const source = new PostgresWakeSource(
      {
        knex: down,
        tables: tableNames('x_'),
        cluster: 'default',
        logger: silentLoggerForTests,
        queryTimeout: 2000,
        onError: (_e, retry) => errors.push(retry),
      },
      { reconnectBase: 20, reconnectMax: 80 },
    );
    t.after(() => source.stop());
    await source.start(() => undefined);
    assert.equal(source.listening, false);
    await waitFor(() => errors.length >= 3, { describe: () => `${errors.length} attempts` });
    assert.ok(
      errors.every((ms) => ms <= 80),
      `backoff capped: ${errors.join(',')}`,
    );
  });

  test(
    'restarting PostgreSQL: the listener comes back by itself',
    { skip: process.env.DISTCACHE_DESTRUCTIVE === '1' ? false : 'disruptive to other tests: set DISTCACHE_DESTRUCTIVE=1' },
    async (t) => {
      const h = await harness(t, 'postgres');
      const onB = recorder();
      const b = await started(h, 'b', onB);
      const { source } = await attach(t, h, b);
      const pid = source.listenerPid;
      const version = String((await h.knex.raw('show server_version_num')).rows[0].server_version_num).slice(0, 2);
      execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], { stdio: 'inherit' });
      await waitFor(() => source.listening && source.listenerPid !== pid, {
        timeout: 60_000,
        interval: 50,
        describe: () => `listening ${source.listening}`,
      });
      const raw = new pg.Client({ connectionString: PG_URL });
      await raw.connect();
      t.after(() => raw.end());
      // knex's pool may still hold dead connections; the poll after a wake retries until it works.
      await waitFor(
        async () => {
          try {
            await plainInsert(h, 31);
            return true;
          } catch {
            return false;
          }
        },
        { timeout: 20_000, interval: 100 },
      );
      await raw.query('select pg_notify($1, $2)', [notifyChannel(h.prefix, 'default'), '']);
      await waitFor(has(onB, 31), { timeout: 20_000, interval: 50 });
    },
  );
});
