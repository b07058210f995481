import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Region, RegionOptions } from '../src/index.js';
import { ManualBulkLoader, ManualLoader, startedCache } from './support/regions.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/**
 * Bulk read-through (getMany, loadMany, getOrLoadMany): one loader call for the misses, and each
 * key its own load, so an invalidation that overtakes the batch for one key discards that key only.
 */

type Row = { v: number };

async function setup(t: TestContext, options: Partial<RegionOptions<Row>> = {}) {
  const bulk = new ManualBulkLoader<Row>();
  const single = new ManualLoader<Row>();
  let products!: Region<Row>;
  const { h, cache } = await startedCache(t, (c) => {
    products = c.region<Row>('product', { load: single.load, loadMany: bulk.loadMany as never, ...options });
  });
  return { h, cache, bulk, single, products };
}

test('getMany of 100 cold keys makes one loadMany call, answers in key order, and a missing key is not found', async (t) => {
  const { bulk, single, products } = await setup(t);
  const keys = Array.from({ length: 100 }, (_, i) => i + 1);
  const pending = products.getMany(keys);
  assert.equal(bulk.calls.length, 1);
  assert.deepEqual(bulk.calls[0]!.keys, keys);
  // The map's keys may be strings: '7' and 7 name one key. Key 100 is missing: not found.
  await bulk.resolve(
    0,
    keys.filter((k) => k !== 100).map((k) => [String(k), { v: k }]),
  );
  const values = await pending;
  assert.deepEqual(values.slice(0, 3), [{ v: 1 }, { v: 2 }, { v: 3 }]);
  assert.equal(values[99], undefined);
  assert.deepEqual(await products.getMany([3, 1, 2]), [{ v: 3 }, { v: 1 }, { v: 2 }], 'hits, in the order asked');
  assert.equal(bulk.calls.length, 1);
  assert.equal(single.calls.length, 0);
  const s = products.stats();
  assert.equal(s.loads, 1);
  assert.equal(s.hits, 3);
  assert.equal(s.misses, 100);
  assert.equal(s.hitRatio, 3 / 103);
  assert.equal(s.loadDurations.count, 1);
});

test('keys already loading join those loads; repeated keys load once', async (t) => {
  const { bulk, single, products } = await setup(t);
  const one = products.get(1);
  assert.equal(single.calls.length, 1);
  const many = products.getMany([1, 2, 2, 3]);
  assert.deepEqual(bulk.calls[0]!.keys, [2, 3], 'key 1 joined its load in flight; key 2 asked once');
  await single.resolve(0, { v: 1 });
  await bulk.resolve(0, [
    [2, { v: 2 }],
    [3, { v: 3 }],
  ]);
  assert.deepEqual(await one, { v: 1 });
  assert.deepEqual(await many, [{ v: 1 }, { v: 2 }, { v: 2 }, { v: 3 }]);
  const later = products.getMany([2, 4]);
  assert.equal(bulk.calls.length, 2);
  assert.deepEqual(bulk.calls[1]!.keys, [4]);
  await bulk.resolve(1, [[4, { v: 4 }]]);
  assert.deepEqual(await later, [{ v: 2 }, { v: 4 }]);
});

test('an invalidation of one key while the batch loads discards that key only', async (t) => {
  for (const how of ['refresh', 'remove', 'refreshValues'] as const) {
    await t.test(how, async (t) => {
      const { bulk, products } = await setup(t);
      const pending = products.getMany([1, 2, 3]);
      if (how === 'refresh') await products.refresh([2]);
      else if (how === 'remove') await products.remove([2]);
      else await products.refreshValues([{ key: 2, value: { v: 20 } }]);
      await bulk.resolve(0, [
        [1, { v: 1 }],
        [2, { v: 2 }],
        [3, { v: 3 }],
      ]);
      assert.deepEqual(await pending, [{ v: 1 }, { v: 2 }, { v: 3 }], 'the batch answers the read that started it');
      assert.deepEqual(products.peek(1), { v: 1 });
      assert.deepEqual(products.peek(2), how === 'refreshValues' ? { v: 20 } : undefined, 'key 2 was overtaken: never the batch value');
      assert.deepEqual(products.peek(3), { v: 3 });
      assert.equal(products.stats().loadsDiscarded, 1);
    });
  }
});

test('a read after the invalidation never joins the overtaken key of the batch', async (t) => {
  const { bulk, single, products } = await setup(t);
  const batch = products.getMany([1, 2]);
  await products.refresh([2]);
  const after = products.get(2);
  assert.equal(single.calls.length, 1, 'key 2 loads again');
  await single.resolve(0, { v: 22 });
  await bulk.resolve(0, [
    [1, { v: 1 }],
    [2, { v: 2 }],
  ]);
  assert.deepEqual(await batch, [{ v: 1 }, { v: 2 }]);
  assert.deepEqual(await after, { v: 22 });
  assert.deepEqual(products.peek(2), { v: 22 });
});

test('refreshAll and refreshTags overtake every covered key of a batch', async (t) => {
  const { bulk, products } = await setup(t);
  const all = products.getMany([1, 2]);
  await products.refreshAll();
  await bulk.resolve(0, [
    [1, { v: 1 }],
    [2, { v: 2 }],
  ]);
  await all;
  assert.equal(products.peek(1), undefined);
  assert.equal(products.peek(2), undefined);
  const tagged = products.getOrLoadMany([5, 6], bulk.loadMany as never, { tags: ['t5'] });
  await products.refreshTags(['t5']);
  await bulk.resolve(1, [
    [5, { v: 5 }],
    [6, { v: 6 }],
  ]);
  assert.deepEqual(await tagged, [{ v: 5 }, { v: 6 }]);
  assert.equal(products.peek(5), undefined);
  assert.equal(products.peek(6), undefined);
});

test('without loadMany, each miss goes through load, single-flight', async (t) => {
  const single = new ManualLoader<Row>();
  let products!: Region<Row>;
  await startedCache(t, (c) => {
    products = c.region<Row>('product', { load: single.load });
  });
  const a = products.getMany([1, 2, 1]);
  const b = products.get(2);
  assert.deepEqual(
    single.calls.map((c) => c.key),
    [1, 2],
  );
  await single.resolve(0, { v: 1 });
  await single.resolve(1, undefined);
  assert.deepEqual(await a, [{ v: 1 }, undefined, { v: 1 }]);
  assert.equal(await b, undefined);
});

test('getOrLoadMany brings its own bulk loader and tags; a failed batch rejects its callers', async (t) => {
  const bulk = new ManualBulkLoader<Row>();
  let products!: Region<Row>;
  await startedCache(t, (c) => {
    products = c.region<Row>('product', {});
  });
  await assert.rejects(products.getMany([1]), { code: 'E_INVALID_OPTION' });
  const first = products.getOrLoadMany([1, 2], bulk.loadMany as never, { tags: ['x'] });
  await bulk.resolve(0, [[1, { v: 1 }]]);
  assert.deepEqual(await first, [{ v: 1 }, undefined]);
  await products.refreshTags(['x']);
  assert.equal(products.peek(1), undefined);
  const failing = assert.rejects(products.getOrLoadMany([1], bulk.loadMany as never), /database down/);
  await bulk.reject(1, new Error('database down'));
  await failing;
  assert.equal(products.stats().loadErrors, 1);
});
