import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import knexFactory from 'knex';
import { harness, type Harness } from './conformance/harness.js';
import { encodeInstructions, silentLoggerForTests, tableNames, type DistributedCache } from './conformance/exports.js';
import { availability, DATABASES } from './support/databases.js';
import { recorder } from './support/recorder.js';
import { waitFor } from './support/wait.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { dialectFor } from '../src/dialects/dialect.js';
import { Applier } from '../src/apply/applier.js';
import { Poller } from '../src/sync/poller.js';
import type { Clock, TimerHandle } from '../src/util/timers.js';
import { TypedEmitter } from '../src/events.js';
import { InstrumentationHooks } from '../src/instrumentation.js';
import { OwnWrites } from '../src/apply/own-writes.js';
import { RefresherRegistry } from '../src/refreshers/registry.js';
import type { InstructionStore } from '../src/store/store.js';

checkLeaksAfterEach();

/** A clock a test steps by hand; it also records the most timers ever pending at once. */
class ManualClock implements Clock {
  private time = 0;
  private nextId = 1;
  readonly timers = new Map<number, { due: number; fn: () => void }>();
  mostPending = 0;

  now(): number {
    return this.time;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { due: this.time + ms, fn });
    this.mostPending = Math.max(this.mostPending, this.timers.size);
    return { cancel: () => void this.timers.delete(id) };
  }

  /** Fires every timer due by now, without waiting for what they start. */
  fireDue(): number {
    let fired = 0;
    for (const [id, timer] of [...this.timers].sort((a, b) => a[1].due - b[1].due)) {
      if (timer.due > this.time || !this.timers.has(id)) continue;
      this.timers.delete(id);
      timer.fn();
      fired += 1;
    }
    return fired;
  }

  /** Moves to the next timer and fires it; `settled` says when what it started is over. */
  async step(settled: () => boolean): Promise<void> {
    const next = Math.min(...[...this.timers.values()].map((t) => t.due));
    assert.ok(Number.isFinite(next), 'the loop holds a timer');
    this.time = Math.max(this.time, next);
    this.fireDue();
    await waitFor(settled, { describe: () => `${this.timers.size} timers pending` });
  }
}

const SYNC_INTERVAL = 1000;

/**
 * A Poller on the harness's real tables, driven by `clock`, counting its polls. `wrap` may put a
 * fault in front of the real store (the database underneath stays real).
 */
async function clockedPoller(h: Harness, clock: ManualClock, wrap: (store: InstructionStore) => InstructionStore = (s) => s) {
  const real = dialectFor(h.knex).createStore({ knex: h.knex, tables: tableNames(h.prefix), cluster: 'default', queryTimeout: 5000 });
  const store = wrap(real);
  const events = new TypedEmitter(() => undefined);
  const registry = new RefresherRegistry();
  const product = recorder();
  registry.add(product);
  const hooks = new InstrumentationHooks();
  const applier = new Applier(registry, store, events, silentLoggerForTests, hooks, {
    identity: 'p',
    refresherTimeout: 5000,
    refresherRetries: 0,
    retryDelay: 1,
  });
  const poller = new Poller(store, applier, events, silentLoggerForTests, hooks, new OwnWrites(), {
    identity: 'p',
    instanceId: 'poller-under-test',
    syncInterval: SYNC_INTERVAL,
    pageSize: 100,
    maxPendingInstructions: 1_000_000,
    startFromHead: true,
    maxErrorBackoff: 2 * SYNC_INTERVAL,
    clock,
  });
  const counts = { polls: 0 };
  events.on('sync:complete', () => (counts.polls += 1));
  await poller.sync();
  counts.polls = 0;
  return { poller, counts, product };
}

async function insertRows(h: Harness, from: number, count: number): Promise<void> {
  const rows = Array.from({ length: count }, (_, i) => ({
    json_instruction: encodeInstructions([{ refresher: 'product', kind: 'refresh', ids: [from + i] }]),
    originated: 'burst',
    origin_instance: null,
    instruction_count: 1,
    cluster: 'default',
  }));
  await h.knex(h.table('cache_instruction')).insert(rows);
}

describe('the poll loop: one timer, wake-ups coalesce, nothing after stop()', () => {
  const injectedClockTest =
    'with an injected clock: bursts of wake-ups during polls never add a timer; then one poll per syncInterval; none after stop()';
  test(injectedClockTest, async (t) => {
    const h = await harness(t, 'sqlite');
    const clock = new ManualClock();
    const { poller, counts, product } = await clockedPoller(h, clock);
    poller.start();
    assert.equal(clock.timers.size, 1);
    // Three bursts of 400 commits, each followed by its wake-up, as NOTIFY or the WAL watch
    // delivers them: most arrive while a poll is in flight.
    let id = 1;
    for (let burst = 0; burst < 3; burst += 1) {
      for (let i = 0; i < 40; i += 1) {
        await insertRows(h, id, 10);
        id += 10;
        for (let w = 0; w < 10; w += 1) {
          poller.wake();
          clock.fireDue(); // a wake-up poll starts at once; the next wakes meet it in flight
          await Promise.resolve();
        }
        assert.ok(clock.timers.size <= 1, `at most one timer pending, found ${clock.timers.size}`);
      }
      // Let the polls the burst asked for finish: the loop is back to one timer, one interval away.
      await waitFor(async () => {
        clock.fireDue();
        return clock.timers.size === 1 && [...clock.timers.values()][0]!.due > clock.now();
      });
    }
    await waitFor(() => product.refreshedIds().length === id - 1, {
      describe: () => `${product.refreshedIds().length} of ${id - 1} applied`,
    });
    assert.equal(clock.mostPending, 1, 'never more than one timer at once');
    // Idle after the bursts: exactly one poll per interval.
    counts.polls = 0;
    const start = clock.now();
    for (let i = 0; i < 20; i += 1) await clock.step(() => clock.timers.size === 1);
    const elapsed = clock.now() - start;
    assert.equal(counts.polls, 20, `${counts.polls} polls in ${elapsed} ms of clock time`);
    assert.ok(Math.abs(elapsed - 20 * SYNC_INTERVAL) <= 2 * SYNC_INTERVAL, `20 polls took ${elapsed} ms, about 20 intervals`);
    // stop(): no timer left, and no poll however far the clock moves.
    await poller.stop(1000);
    assert.equal(clock.timers.size, 0, 'stop() leaves no timer');
    counts.polls = 0;
    poller.wake();
    assert.equal(clock.timers.size, 0, 'a wake after stop() arms nothing');
    await assert.rejects(poller.sync(), /stopped/, 'and a poll after stop() sends no query');
    assert.equal(counts.polls, 0);
  });
});

const pgSkip = await availability('postgres');

describe('the poll loop on PostgreSQL with real NOTIFYs', { skip: pgSkip }, () => {
  test(
    'after three bursts of 400 writes the woken server polls once per syncInterval (±10 %), and sends nothing after stop()',
    { timeout: 120_000 },
    async (t) => {
      const h = await harness(t, 'postgres');
      const interval = 200;
      // The watched server has its own knex, so every query it sends can be counted.
      const watchedKnex = knexFactory(DATABASES.postgres.config());
      t.after(() => watchedKnex.destroy());
      const queries: string[] = [];
      watchedKnex.on('query', (q: { sql: string }) => queries.push(q.sql));
      const writer = h.cache({ serverIdentity: 'writer', refreshers: [recorder()], notify: true });
      const onWatched = recorder();
      const watched: DistributedCache = h.cache({
        serverIdentity: 'watched',
        knex: watchedKnex,
        refreshers: [onWatched],
        notify: true,
        syncInterval: interval,
      });
      const observer = h.cache({ serverIdentity: 'observer', refreshers: [recorder()], notify: false, syncInterval: interval });
      let watchedPolls = 0;
      watched.on('sync:complete', () => (watchedPolls += 1));
      let observerPolls = 0;
      observer.on('sync:complete', () => (observerPolls += 1));
      await Promise.all([writer.start(), watched.start(), observer.start()]);
      let next = 1;
      for (let burst = 0; burst < 3; burst += 1) {
        const ids = Array.from({ length: 400 }, () => next++);
        await Promise.all(ids.map((id) => writer.refresh('product', [id])));
        await waitFor(() => onWatched.refreshedIds().length >= next - 1, {
          timeout: 20_000,
          describe: () => `${onWatched.refreshedIds().length} of ${next - 1}`,
        });
      }
      // Idle now. Count the watched server's polls over 15 intervals of the observer's (which
      // never gets a wake-up), by the events and by the poll queries on its own connection.
      const pollQueries = () => queries.filter((sql) => sql.includes(h.table('cache_instruction'))).length;
      await waitFor(() => observerPolls > 0);
      const [polls0, queries0, observer0, started] = [watchedPolls, pollQueries(), observerPolls, performance.now()];
      await waitFor(() => observerPolls >= observer0 + 15, { timeout: 20_000 });
      const seconds = (performance.now() - started) / 1000;
      const rate = (watchedPolls - polls0) / seconds;
      const queryRate = (pollQueries() - queries0) / seconds;
      t.diagnostic(
        `idle after bursts: ${rate.toFixed(2)} polls/s, ${queryRate.toFixed(2)} poll queries/s over ${seconds.toFixed(2)} s ` +
          `(expected ${1000 / interval}/s)`,
      );
      assert.ok(
        Math.abs(rate - 1000 / interval) <= 0.1 * (1000 / interval),
        `polls per second: ${rate.toFixed(2)}, expected ${1000 / interval} ± 10 %`,
      );
      assert.ok(queryRate <= 1.1 * (1000 / interval), `poll queries per second: ${queryRate.toFixed(2)}`);
      // After stop(): not one query from the watched server while the observer polls 10 more times
      // and the writer keeps committing (each commit a NOTIFY the stopped server must ignore).
      await watched.stop();
      const after = queries.length;
      const observerAtStop = observerPolls;
      const writes = (async () => {
        while (observerPolls < observerAtStop + 10) await writer.refresh('product', [next++]);
      })();
      await waitFor(() => observerPolls >= observerAtStop + 10, { timeout: 20_000 });
      await writes;
      assert.deepEqual(queries.slice(after), [], 'no query after stop() resolved');
    },
  );
});

describe('a catch-up reads the next page while it applies the one before', { skip: pgSkip }, () => {
  test('a later page that fails while the poll still works on the page before fails that poll, never the process', async (t) => {
    const h = await harness(t, 'postgres');
    let laterReads = 0;
    let failLaterPage: (() => void) | undefined;
    // The later page (read with a token) fails when the poll starts recording the first page's
    // malformed row, and that recording is a database round trip: the rejection comes while the
    // poll is busy, before it awaits the page.
    const failLater = (store: InstructionStore) =>
      new Proxy(store, {
        get(target, prop) {
          if (prop === 'readPage') {
            return (identity: string, from: string, token: string | null, limit: number) => {
              if (token === null) return target.readPage(identity, from, token, limit);
              laterReads += 1;
              return new Promise((_, reject) => (failLaterPage = () => reject(new Error('the later page read failed'))));
            };
          }
          if (prop === 'recordFailure') {
            return (failure: Parameters<InstructionStore['recordFailure']>[0]) => {
              failLaterPage?.();
              return target.recordFailure(failure);
            };
          }
          const value: unknown = Reflect.get(target, prop);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    const { poller } = await clockedPoller(h, new ManualClock(), failLater);
    await insertRows(h, 1, 50);
    await h.knex(h.table('cache_instruction')).insert({
      json_instruction: '{"v":1,"instructions":', // unreadable: the applier records it in cache_failure
      originated: 'burst',
      origin_instance: null,
      instruction_count: 1,
      cluster: 'default',
    });
    await insertRows(h, 51, 150);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    t.after(() => process.off('unhandledRejection', onUnhandled));
    await assert.rejects(poller.sync(), /the later page read failed/);
    assert.equal(laterReads, 1, 'the next page was asked for while the first was being worked on');
    const failures = await h.knex(h.table('cache_failure')).count({ n: '*' });
    assert.equal(Number(failures[0]?.n), 1, 'the malformed row was recorded, after the later page had failed');
    // One more turn of the event loop: Node reports an unhandled rejection after the microtasks.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, [], 'no unhandled rejection');
    await poller.stop(5000);
  });
});
