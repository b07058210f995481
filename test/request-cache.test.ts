import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as yieldOnce } from 'node:timers/promises';
import type { Region, RequestCachedRegion } from '../src/index.js';
import { harness } from './conformance/harness.js';
import { resolveRegionOptions } from '../src/regions/options.js';
import { deferred, ManualLoader, startedCache } from './support/regions.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

type Row = { v: number };

/** A loader that counts its calls and answers at once: { v } from `values`, undefined for a key not there. */
function countingLoader(values: Map<number, number>) {
  const calls: unknown[] = [];
  return {
    calls,
    load: async (key: unknown) => {
      calls.push(key);
      const v = values.get(Number(key));
      return v === undefined ? undefined : { v };
    },
  };
}

test('inside a request a key is loaded or copied once: twenty reads of product 42 make one load and one clone', async (t) => {
  const loader = countingLoader(new Map([[42, 1]]));
  let products!: Region<Row>;
  const options = { load: loader.load, clone: true, perRequest: true };
  const { cache } = await startedCache(t, (c) => (products = c.region<Row>('product', options)));
  const seen = await cache.runInRequest(async () => {
    const reads: Row[] = [];
    for (let i = 0; i < 20; i++) reads.push((await products.get(42))!);
    // A key not found is memoized too: without the request cache each read would load it again.
    for (let i = 0; i < 20; i++) assert.equal(await products.get(7), undefined);
    return reads;
  });
  assert.ok(
    seen.every((r) => r === seen[0]),
    'one copy for the whole request',
  );
  assert.deepEqual(loader.calls, [42, 7]);
  assert.equal((products as RequestCachedRegion<Row>).stats().requestHits, 38);
  // Outside a request, the region as usual: a copy per read, and the miss loads again.
  const [x, y] = [await products.get(42), await products.get(42)];
  assert.notEqual(x, y);
  await products.get(7);
  assert.deepEqual(loader.calls, [42, 7, 7]);
});

test('concurrent requests are isolated: each has its own memo, and a copy one mutates is not another one’s', async (t) => {
  const loader = countingLoader(new Map([[1, 1]]));
  let products!: Region<Row>;
  const options = { load: loader.load, clone: true, perRequest: true };
  const { cache } = await startedCache(t, (c) => (products = c.region<Row>('product', options)));
  const gate = deferred<void>();
  const first = cache.runInRequest(async () => {
    const row = (await products.get(1))!;
    row.v = 99; // the request's own copy
    await gate.promise;
    return (await products.get(1))!.v;
  });
  const second = cache.runInRequest(async () => {
    await yieldOnce();
    const row = (await products.get(1))!;
    gate.resolve();
    await yieldOnce();
    return row.v;
  });
  assert.deepEqual(await Promise.all([first, second]), [99, 1]);
  // Requests inside requests have memos of their own as well.
  await cache.runInRequest(async () => {
    const outer = await products.get(1);
    const inner = await cache.runInRequest(() => products.get(1));
    assert.notEqual(outer, inner);
  });
});

test('a request cache never outlives its request: work it left behind reads through the region afterwards', async (t) => {
  const loader = countingLoader(new Map());
  let products!: Region<Row>;
  const { cache } = await startedCache(t, (c) => (products = c.region<Row>('product', { load: loader.load, perRequest: true })));
  const later = deferred<void>();
  let leftOver!: Promise<void>;
  await cache.runInRequest(async () => {
    await products.get(5);
    await products.get(5);
    // Still in the request's async context, but run after it ended.
    leftOver = later.promise.then(async () => void (await products.get(5)));
  });
  assert.equal(loader.calls.length, 1);
  later.resolve();
  await leftOver;
  assert.equal(loader.calls.length, 2, 'the ended request kept nothing');
});

test('an invalidation applied here during a request reaches its memo, and a read it overtook keeps nothing there', async (t) => {
  const h = await harness(t, 'sqlite');
  const loader = new ManualLoader<Row>();
  const a = h.cache({ serverIdentity: 'a' });
  const b = h.cache({ serverIdentity: 'b' });
  const products = a.region<Row>('product', { load: loader.load, perRequest: true });
  b.region<Row>('product', {});
  await a.start();
  await b.start();
  await a.runInRequest(async () => {
    const first = products.get(1);
    await loader.resolve(0, { v: 1 });
    assert.deepEqual(await first, { v: 1 });
    assert.deepEqual(await products.get(1), { v: 1 }, 'memoized');
    // Another server writes; this one applies it (its poll) while the request runs.
    await b.refresh('product', [1]);
    await a.sync();
    const second = products.get(1);
    assert.equal(loader.calls.length, 2, 'the invalidation reached the memo: the read loads again');
    // A local write overtakes that load: the caller still gets its answer, the memo keeps nothing.
    await products.refresh([1]);
    await loader.resolve(1, { v: 2 });
    assert.deepEqual(await second, { v: 2 });
    const third = products.get(1);
    assert.equal(loader.calls.length, 3, 'the overtaken read was not memoized');
    await loader.resolve(2, { v: 3 });
    assert.deepEqual(await third, { v: 3 });
    // Tags and refreshAll reach it too.
    const requestHits = () => (products as RequestCachedRegion<Row>).stats().requestHits;
    assert.deepEqual(await products.get(1), { v: 3 });
    const hits = requestHits();
    await products.refreshTags(['any']);
    assert.deepEqual(await products.get(1), { v: 3 }, 'read from the region (key 1 carries no tag)');
    assert.equal(requestHits(), hits, 'a tag invalidation empties the region’s memo');
    await products.refreshAll();
    const fifth = products.get(1);
    assert.equal(loader.calls.length, 4, 'refreshAll empties the memo and the region');
    await loader.resolve(3, { v: 5 });
    assert.deepEqual(await fifth, { v: 5 });
  });
});

test('getMany and getOrLoadMany use the memo per key; the memo is bounded; perRequest is validated', async (t) => {
  const loader = countingLoader(
    new Map([
      [1, 1],
      [2, 2],
      [3, 3],
    ]),
  );
  let products!: Region<Row>;
  let small!: Region<Row>;
  const { cache } = await startedCache(t, (c) => {
    products = c.region<Row>('product', { load: loader.load, perRequest: true });
    small = c.region<Row>('small', { load: loader.load, perRequest: { max: 2 } });
  });
  await cache.runInRequest(async () => {
    assert.deepEqual(await products.get(10), undefined);
    const values = await products.getMany([1, '2', 10, 1]);
    assert.deepEqual(values, [{ v: 1 }, { v: 2 }, undefined, { v: 1 }]);
    assert.deepEqual(await products.getMany([2, 1]), [{ v: 2 }, { v: 1 }]);
    assert.deepEqual(loader.calls, [10, 1, 2], 'each key once per request');
    for (const key of [20, 21, 22, 20, 21, 22]) await small.get(key);
    assert.deepEqual(loader.calls.slice(3), [20, 21, 22, 22], 'two keys kept; the third is read as usual');
  });
  for (const bad of ['yes', { max: 0 }, { max: 1.5 }, null]) {
    assert.throws(() => resolveRegionOptions('bad', { perRequest: bad as never }), { code: 'E_INVALID_OPTION' }, JSON.stringify(bad));
  }
  assert.equal(resolveRegionOptions('ok', { perRequest: true }).perRequest, 1000);
  assert.equal(resolveRegionOptions('ok', {}).perRequest, 0);
});
