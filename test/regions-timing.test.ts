import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Region, RegionOptions } from '../src/index.js';
import { ManualClock, ManualLoader, settle, startedCache } from './support/regions.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { waitFor } from './support/wait.js';

checkLeaksAfterEach();

/**
 * Refresh-ahead, soft and hard loader timeouts, and graceBackoff, on a clock the test moves (its
 * timers fire as it moves). A background load and a timed-out load are loads: an invalidation that
 * overtakes one discards its result.
 */

type Row = { v: number };

async function setup(t: TestContext, options: Partial<RegionOptions<Row>>) {
  const clock = new ManualClock();
  const loader = new ManualLoader<Row>();
  let products!: Region<Row>;
  const { cache } = await startedCache(t, (c) => {
    products = c.region<Row>('product', { load: loader.load, clock, ...options });
  });
  return { cache, clock, loader, products };
}

/** Loads key 42 at { v: 1 } through the manual loader (call `index`). */
async function prime(products: Region<Row>, loader: ManualLoader<Row>, index = 0): Promise<void> {
  const first = products.get(42);
  await loader.resolve(index, { v: 1 });
  assert.deepEqual(await first, { v: 1 });
}

test('refresh-ahead: a hit past the threshold answers at once and starts one background load that refreshes the entry', async (t) => {
  const { clock, loader, products } = await setup(t, { ttl: 100, refreshAhead: 0.8 });
  await prime(products, loader);
  clock.advance(79);
  assert.deepEqual(await products.get(42), { v: 1 });
  assert.equal(loader.calls.length, 1, 'before 80% of the ttl: no load');
  clock.advance(2);
  assert.deepEqual(await products.get(42), { v: 1 }, 'answered from the cache at once');
  assert.deepEqual(await products.get(42), { v: 1 });
  assert.equal(loader.calls.length, 2, 'one background load, however many hits');
  await loader.resolve(1, { v: 2 });
  assert.deepEqual(products.peek(42), { v: 2 });
  clock.advance(50);
  assert.deepEqual(await products.get(42), { v: 2 }, 'the refreshed entry has a new ttl');
  assert.equal(loader.calls.length, 2);
  assert.equal(products.stats().refreshesAhead, 1);
});

test('refresh-ahead overtaken: an invalidation during the background load discards it', async (t) => {
  const { clock, loader, products } = await setup(t, { ttl: 100, refreshAhead: 0.8 });
  await prime(products, loader);
  clock.advance(90);
  assert.deepEqual(await products.get(42), { v: 1 });
  assert.equal(loader.calls.length, 2);
  await products.refresh([42]);
  await loader.resolve(1, { v: 2 });
  assert.equal(products.peek(42), undefined, 'the background load began before the invalidation: never stored');
  assert.equal(products.stats().loadsDiscarded, 1);
  const next = products.get(42);
  await loader.resolve(2, { v: 3 });
  assert.deepEqual(await next, { v: 3 });
});

test('a failed background load keeps the entry and answers nobody with an error', async (t) => {
  const { clock, loader, products } = await setup(t, { ttl: 100, refreshAhead: 0.5 });
  await prime(products, loader);
  clock.advance(60);
  await products.get(42);
  await loader.reject(1, new Error('down'));
  assert.deepEqual(products.peek(42), { v: 1 });
  assert.equal(products.stats().loadErrors, 1);
});

test('soft timeout: a graced entry answers after `timeout`, and the load goes on to refresh the entry', async (t) => {
  const { clock, loader, products } = await setup(t, { ttl: 10, grace: 1000, timeout: 50 });
  await prime(products, loader);
  clock.advance(20);
  let answered: Row | undefined;
  const read = products.get(42).then((v) => (answered = v));
  await settle();
  clock.advance(49);
  await settle();
  assert.equal(answered, undefined, 'before the timeout, the read waits for the load');
  clock.advance(1);
  await read;
  assert.deepEqual(answered, { v: 1 }, 'the graced entry');
  assert.equal(products.stats().softTimeouts, 1);
  await loader.resolve(1, { v: 2 });
  assert.deepEqual(products.peek(42), { v: 2 }, 'the load finished in the background and stored its value');
});

test('a soft timeout followed by an invalidation: the background load is discarded', async (t) => {
  const { clock, loader, products } = await setup(t, { ttl: 10, grace: 1000, timeout: 50 });
  await prime(products, loader);
  clock.advance(20);
  const read = products.get(42);
  await settle();
  clock.advance(50);
  assert.deepEqual(await read, { v: 1 });
  await products.refresh([42]);
  await loader.resolve(1, { v: 2 });
  assert.equal(products.peek(42), undefined, 'the load began before the invalidation');
  assert.equal(products.stats().loadsDiscarded, 1);
});

test('an invalidation before the soft timeout: the invalidated entry is never served; the read waits for its load', async (t) => {
  const { clock, loader, products } = await setup(t, { ttl: 10, grace: 1000, timeout: 50 });
  await prime(products, loader);
  clock.advance(20);
  let answered: Row | undefined;
  const read = products.get(42).then((v) => (answered = v));
  await products.refresh([42]);
  clock.advance(60);
  await settle();
  assert.equal(answered, undefined);
  await loader.resolve(1, { v: 2 });
  await read;
  assert.deepEqual(answered, { v: 2 });
  assert.equal(products.peek(42), undefined);
});

test('hard timeout: the callers get E_LOAD_TIMEOUT, the signal is aborted, and the abandoned load never stores', async (t) => {
  const clock = new ManualClock();
  const signals: AbortSignal[] = [];
  const answers: Array<(v: Row) => void> = [];
  let products!: Region<Row>;
  await startedCache(t, (c) => {
    products = c.region<Row>('product', {
      clock,
      hardTimeout: 100,
      load: (_key, ctx) => {
        signals.push(ctx.signal);
        return new Promise<Row>((resolve) => answers.push(resolve));
      },
    });
  });
  const read = assert.rejects(products.get(1), { code: 'E_LOAD_TIMEOUT' });
  await settle();
  clock.advance(100);
  await read;
  assert.equal(signals[0]!.aborted, true);
  const again = products.get(1);
  assert.equal(signals.length, 2, 'the next read starts a new load');
  answers[0]!({ v: 1 });
  await settle();
  assert.equal(products.peek(1), undefined, 'the abandoned load stores nothing');
  answers[1]!({ v: 2 });
  assert.deepEqual(await again, { v: 2 });
  assert.deepEqual(products.peek(1), { v: 2 });
  assert.equal(products.stats().hardTimeouts, 1);
  assert.equal(clock.pendingTimers, 0, 'every timer cleared');
});

test('hard timeout with a graced entry serves it; graceBackoff then serves it with no new load for that long', async (t) => {
  const { clock, loader, products } = await setup(t, { ttl: 10, grace: 10_000, hardTimeout: 100, graceBackoff: 1000 });
  await prime(products, loader);
  clock.advance(20);
  const read = products.get(42);
  await settle();
  clock.advance(100);
  assert.deepEqual(await read, { v: 1 });
  assert.deepEqual(await products.get(42), { v: 1 });
  assert.equal(loader.calls.length, 2, 'within graceBackoff: no new load');
  clock.advance(1001);
  const after = products.get(42);
  assert.equal(loader.calls.length, 3, 'after graceBackoff: a new load');
  await loader.resolve(2, { v: 3 });
  assert.deepEqual(await after, { v: 3 });
});

test('graceBackoff after a failed load; an invalidation ends it (nothing graced is left to serve)', async (t) => {
  const { clock, loader, products } = await setup(t, { ttl: 10, grace: 10_000, graceBackoff: 1000 });
  await prime(products, loader);
  clock.advance(20);
  const failed = products.get(42);
  await loader.reject(1, new Error('down'));
  assert.deepEqual(await failed, { v: 1 });
  assert.deepEqual(await products.get(42), { v: 1 });
  assert.equal(loader.calls.length, 2);
  await products.refresh([42]);
  const next = products.get(42);
  assert.equal(loader.calls.length, 3, 'the graced entry was invalidated: the read loads');
  await loader.resolve(2, { v: 4 });
  assert.deepEqual(await next, { v: 4 });
});

test('timing options are validated', async () => {
  const { Region } = await import('../src/regions/region.js');
  const host = {
    refresh: async () => '',
    remove: async () => '',
    refreshAll: async () => '',
    refreshPayload: async () => '',
    emit: () => {},
  };
  for (const bad of [{ refreshAhead: 0.8 }, { ttl: 10, refreshAhead: 1 }, { timeout: 100, hardTimeout: 50 }, { graceBackoff: 10 }]) {
    assert.throws(() => new Region('r', bad as RegionOptions<Row>, host), { code: 'E_INVALID_OPTION' }, JSON.stringify(bad));
  }
});

test('the default (coarse) clock: entries expire after their ttl, in an idle loop and within one burst of awaited hits', async (t) => {
  let calls = 0;
  let r!: Region<number>;
  await startedCache(t, (c) => (r = c.region<number>('r', { load: () => ++calls, ttl: 30 })));
  assert.equal(await r.get(1), 1);
  assert.equal(await r.get(1), 1, 'a hit');
  // Idle: the clock's reading is dropped by its timer, so a read after the ttl sees the time move on.
  await waitFor(() => r.peek(1) === undefined, { timeout: 5_000, describe: () => 'entry 1 still fresh' });
  assert.equal(await r.get(1), 2);
  // A burst of hits that never yields to the event loop (its timer cannot fire): a reading serves
  // at most 1,024 reads, so the entry still expires within the burst.
  const first = await r.get(2);
  const started = performance.now();
  let value = first;
  while (value === first && performance.now() - started < 3_000) value = (await r.get(2))!;
  assert.notEqual(value, first, 'reloaded within the burst, not frozen at its first reading');
  assert.ok(performance.now() - started < 1_000);
});

test('a hit of an entry with a ttl answers the same resolved promise every time: no allocation per hit', async (t) => {
  let r!: Region<{ v: number }>;
  let plain!: Region<{ v: number }>;
  await startedCache(t, (c) => {
    r = c.region('r', { load: (k) => ({ v: Number(k) }), ttl: '1h' });
    plain = c.region('plain', { load: (k) => ({ v: Number(k) }), ttl: '1h', clone: true });
  });
  await r.get(1);
  const a = r.get(1);
  assert.equal(r.get(1), a);
  assert.deepEqual(await a, { v: 1 });
  await r.refresh(1);
  assert.notEqual(r.get(1), a, 'a new entry, a new answer');
  await plain.get(1);
  assert.notEqual(await plain.get(1), await plain.get(1), 'clone: each caller its own copy');
});

test("a refresh-ahead whose loader reads the region at once: the late hit still answers its own key's value", async (t) => {
  const clock = new ManualClock();
  let r!: Region<{ k: number; v: number }>;
  let version = 0;
  await startedCache(t, (c) => {
    r = c.region('r', {
      ttl: 100,
      refreshAhead: 0.5,
      clock,
      // Synchronously, before its first await: a read of another key of the same region.
      load: (k) => (Number(k) === 1 && version > 0 ? void r.get(2) : undefined, { k: Number(k), v: ++version }),
    });
  });
  await r.get(2);
  const first = await r.get(1);
  clock.advance(60); // 1 is late: its next hit starts a background load, whose loader reads 2
  assert.deepEqual(await r.get(1), first, "key 1's own entry, not the one its refresh's loader read");
  await settle();
  assert.equal(r.stats().refreshesAhead, 2, "1's, and 2's: its loader's read of 2 was a late hit too");
});
