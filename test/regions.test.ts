import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDistcacheError, type DistcacheEvents, type Region } from '../src/index.js';
import { harness } from './conformance/harness.js';
import { ManualClock, ManualLoader, startedCache } from './support/regions.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

type Row = { v: number };

test('single-flight: 1,000 concurrent gets of a cold key make one loader call, and all get its value', async (t) => {
  const loader = new ManualLoader<Row>();
  let products!: Region<Row>;
  await startedCache(t, (c) => (products = c.region<Row>('product', { load: loader.load })));
  const reads = Array.from({ length: 1000 }, () => products.get(1));
  assert.equal(loader.calls.length, 1);
  await loader.resolve(0, { v: 1 });
  const values = await Promise.all(reads);
  assert.ok(values.every((v) => v?.v === 1));
  assert.deepEqual(await products.get(1), { v: 1 });
  const s = products.stats();
  assert.equal(loader.calls.length, 1);
  assert.deepEqual([s.loads, s.misses, s.hits], [1, 1000, 1]);
});

test('a loader error reaches every waiting caller, is never cached, and is emitted', async (t) => {
  const loader = new ManualLoader<Row>();
  let products!: Region<Row>;
  const { cache } = await startedCache(t, (c) => (products = c.region<Row>('product', { load: loader.load })));
  const events: DistcacheEvents['region:load-error'][] = [];
  cache.on('region:load-error', (e) => events.push(e));
  const reads = [products.get(1), products.get('1'), products.get(1)].map((r) =>
    r.then(
      () => 'resolved',
      (e: Error) => e.message,
    ),
  );
  await loader.reject(0, new Error('database is down'));
  assert.deepEqual(await Promise.all(reads), ['database is down', 'database is down', 'database is down']);
  const next = products.get(1);
  assert.equal(loader.calls.length, 2, 'the error was not cached: the next read loads again');
  await loader.resolve(1, { v: 1 });
  assert.deepEqual(await next, { v: 1 });
  assert.equal(products.stats().loadErrors, 1);
  assert.deepEqual(
    events.map((e) => [e.region, e.key, e.servedFromGrace]),
    [['product', 1, false]],
  );
  // A loader that throws synchronously is an error like any other.
  await assert.rejects(
    products.getOrLoad(2, () => {
      throw new Error('sync throw');
    }),
    /sync throw/,
  );
});

test('grace: an expired entry is served while the loader fails, counted, until grace runs out; never an invalidated one', async (t) => {
  const clock = new ManualClock();
  let fail = false;
  let version = 0;
  const load = () => {
    if (fail) throw new Error('database is down');
    return { v: ++version };
  };
  let products!: Region<Row>;
  const { cache } = await startedCache(t, (c) => (products = c.region<Row>('product', { load, ttl: 1000, grace: 5000, clock })));
  const served: boolean[] = [];
  cache.on('region:load-error', (e) => served.push(e.servedFromGrace));
  assert.deepEqual(await products.get(1), { v: 1 });
  clock.advance(1500);
  assert.equal(products.peek(1), undefined, 'an entry past its ttl is not fresh');
  fail = true;
  assert.deepEqual(await products.get(1), { v: 1 }, 'served from grace while the loader fails');
  assert.deepEqual(await products.get(1), { v: 1 });
  assert.equal(products.stats().servedFromGrace, 2);
  fail = false;
  assert.deepEqual(await products.get(1), { v: 2 }, 'the loader works again: a fresh load');
  clock.advance(1500);
  fail = true;
  await products.refresh([1]);
  await assert.rejects(products.get(1), /database is down/, 'an invalidated entry is never served from grace');
  fail = false;
  await products.get(1);
  clock.advance(1000 + 5000 + 1);
  fail = true;
  await assert.rejects(products.get(1), /database is down/, 'after ttl + grace the entry is gone');
  assert.deepEqual(served, [true, true, false, false]);
});

test('not found: undefined caches nothing, unless cacheMisses; a cached miss is invalidated like any entry', async (t) => {
  let calls = 0;
  const load = () => void (calls += 1);
  let plain!: Region<Row>;
  let misses!: Region<Row>;
  await startedCache(t, (c) => {
    plain = c.region<Row>('plain', { load });
    misses = c.region<Row>('misses', { load, cacheMisses: '1m' });
  });
  assert.equal(await plain.get(1), undefined);
  assert.equal(await plain.get(1), undefined);
  assert.equal(calls, 2);
  calls = 0;
  assert.equal(await misses.get(1), undefined);
  assert.equal(await misses.get(1), undefined);
  assert.equal(calls, 1, 'the miss is cached');
  assert.equal(misses.stats().hits, 1);
  await misses.refresh([1]);
  assert.equal(await misses.get(1), undefined);
  assert.equal(calls, 2, 'the refresh cleared the cached miss');
});

test('clone: true gives each caller its own copy; by default values are shared references', async (t) => {
  let shared!: Region<{ tags: string[] }>;
  let cloned!: Region<{ tags: string[] }>;
  await startedCache(t, (c) => {
    shared = c.region('shared', { load: () => ({ tags: ['a'] }) });
    cloned = c.region('cloned', { load: () => ({ tags: ['a'] }), clone: true });
  });
  const a = (await shared.get(1))!;
  a.tags.push('mutated');
  assert.deepEqual((await shared.get(1))!.tags, ['a', 'mutated']);
  const [b, c] = await Promise.all([cloned.get(1), cloned.get(1)]);
  assert.notEqual(b, c, 'two callers of one load get two copies');
  b!.tags.push('mutated');
  assert.deepEqual((await cloned.get(1))!.tags, ['a']);
  assert.deepEqual(cloned.peek(1), { tags: ['a'] });
});

test('bounded: max evicts the least recently used entry, counted; maxSize with sizeOf', async (t) => {
  let small!: Region<string>;
  let sized!: Region<string>;
  await startedCache(t, (c) => {
    small = c.region<string>('small', { load: (k) => `v${k}`, max: 2 });
    sized = c.region<string>('sized', { load: (k) => 'x'.repeat(Number(k)), maxSize: 10, sizeOf: (v) => v.length });
  });
  await small.getOrLoad(1, () => 'one', { tags: ['t'] });
  await small.get(2);
  await small.get(3);
  assert.equal(small.peek(1), undefined);
  assert.deepEqual([small.stats().size, small.stats().evictions], [2, 1]);
  await sized.get(6);
  await sized.get(5);
  assert.equal(sized.peek(6), undefined);
  assert.equal(sized.stats().size, 1);
});

test('errors: duplicate id, region after start, bad options, bad keys and payloads are coded', async (t) => {
  const h = await harness(t, 'sqlite');
  const cache = h.cache({ serverIdentity: 'web-1', refreshers: [{ id: 'member', refreshAll() {} }] });
  const products = cache.region<Row>('product', { load: () => ({ v: 1 }) });
  assert.throws(
    () => cache.region('product', {}),
    (e) => isDistcacheError(e, 'E_DUPLICATE_REFRESHER'),
  );
  assert.throws(
    () => cache.region('member', {}),
    (e) => isDistcacheError(e, 'E_DUPLICATE_REFRESHER'),
  );
  assert.throws(
    () => cache.region('a', { grace: '1h' }),
    (e) => isDistcacheError(e, 'E_INVALID_OPTION') && /needs ttl/.test((e as Error).message),
  );
  assert.throws(
    () => cache.region('b', { maxSize: 10 }),
    (e) => isDistcacheError(e, 'E_INVALID_OPTION') && /sizeOf/.test((e as Error).message),
  );
  assert.throws(
    () => cache.region('c', { ttl: 'soon' }),
    (e) => isDistcacheError(e, 'E_INVALID_OPTION'),
  );
  assert.throws(
    () => cache.region('d', { max: 0 }),
    (e) => isDistcacheError(e, 'E_INVALID_OPTION'),
  );
  await cache.start();
  assert.throws(
    () => cache.region('late', {}),
    (e) => isDistcacheError(e, 'E_REGISTER_AFTER_START'),
  );
  await assert.rejects(products.get(Number.NaN), (e) => isDistcacheError(e, 'E_INVALID_INSTRUCTION'));
  await assert.rejects(products.refreshTags([''] as string[]), (e) => isDistcacheError(e, 'E_INVALID_OPTION'));
  const failed: string[] = [];
  cache.on('instruction:failed', (e) => failed.push(e.action));
  await cache.refreshPayload('product', [{ key: 4, value: { v: 4 } }, { nonsense: true }]);
  assert.deepEqual(products.peek(4), { v: 4 }, 'the valid payload was applied');
  assert.deepEqual(failed, ['rejected-payload']);
});

test('before the first sync and after stop() nothing is stored (no invalidation could reach it); loads still run', async (t) => {
  const h = await harness(t, 'sqlite');
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const timersBefore = timers();
  const cache = h.cache({ serverIdentity: 'web-1' });
  let calls = 0;
  const products = cache.region<Row>('product', { load: () => ({ v: ++calls }), ttl: '1m', grace: '1h', cacheMisses: '1m' });
  assert.deepEqual(await products.get(1), { v: 1 });
  assert.equal(products.peek(1), undefined);
  await cache.start();
  await products.get(1);
  assert.deepEqual(products.peek(1), { v: 2 });
  await cache.stop();
  assert.equal(timers(), timersBefore, 'stop() leaves no timer behind (regions keep none: lru-cache reads the clock without one)');
  assert.equal(products.peek(1), undefined, 'stop() empties the region');
  assert.deepEqual(await products.get(1), { v: 3 });
  assert.equal(products.stats().size, 0);
  assert.deepEqual(
    cache.regionStats().map((s) => s.region),
    ['product'],
  );
});
