import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Region } from '../src/index.js';
import { ManualLoader, startedCache } from './support/regions.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/**
 * Guarantee 1, part (a): each interleaving of a load and an invalidation, ordered by hand. Once an
 * invalidation is applied, no later read returns a value whose load began before it; the
 * overtaken load still answers its own callers and stores nothing.
 */

type Row = { v: number };

async function setup(t: Parameters<typeof startedCache>[0]) {
  const loader = new ManualLoader<Row>();
  let products!: Region<Row>;
  const { h, cache } = await startedCache(t, (c) => {
    products = c.region<Row>('product', { load: loader.load });
  });
  return { h, cache, loader, products };
}

test('an invalidation during a load: the load answers its caller, stores nothing, and the next read loads again', async (t) => {
  const { loader, products } = await setup(t);
  const first = products.get(42);
  await products.refresh([42]);
  await loader.resolve(0, { v: 1 });
  assert.deepEqual(await first, { v: 1 }, 'the overtaken load still answers the read that started it');
  assert.equal(products.peek(42), undefined, 'and stores nothing');
  const second = products.get(42);
  assert.equal(loader.calls.length, 2, 'a read after the invalidation starts its own load');
  await loader.resolve(1, { v: 2 });
  assert.deepEqual(await second, { v: 2 });
  assert.deepEqual(products.peek(42), { v: 2 });
  assert.equal(products.stats().loadsDiscarded, 1);
});

test('a read after the invalidation never joins the overtaken load, whichever finishes first', async (t) => {
  for (const order of ['old-first', 'new-first'] as const) {
    await t.test(order, async (t) => {
      const { loader, products } = await setup(t);
      const before = products.get(7);
      await products.refresh(7);
      const after = products.get(7);
      assert.equal(loader.calls.length, 2);
      if (order === 'old-first') {
        await loader.resolve(0, { v: 1 });
        await loader.resolve(1, { v: 2 });
      } else {
        await loader.resolve(1, { v: 2 });
        await loader.resolve(0, { v: 1 });
      }
      assert.deepEqual(await before, { v: 1 });
      assert.deepEqual(await after, { v: 2 });
      assert.deepEqual(products.peek(7), { v: 2 }, 'the cache holds the load that began after the invalidation');
      assert.deepEqual(await products.get(7), { v: 2 });
      assert.equal(loader.calls.length, 2);
    });
  }
});

test('remove, refreshAll and a value payload overtake a load the same way', async (t) => {
  const cases: Array<[string, (p: Region<Row>) => Promise<unknown>, Row | undefined]> = [
    ['remove', (p) => p.remove([5]), undefined],
    ['refreshAll', (p) => p.refreshAll(), undefined],
    ['refreshValues', (p) => p.refreshValues([{ key: 5, value: { v: 9 } }]), { v: 9 }],
  ];
  for (const [name, invalidate, expected] of cases) {
    await t.test(name, async (t) => {
      const { loader, products } = await setup(t);
      const pending = products.get(5);
      await invalidate(products);
      await loader.resolve(0, { v: 1 });
      assert.deepEqual(await pending, { v: 1 });
      assert.deepEqual(products.peek(5), expected, `after ${name}, the cache holds ${JSON.stringify(expected)}, never the overtaken load`);
      assert.equal(products.stats().loadsDiscarded, 1);
    });
  }
});

test('a value payload is stored with no load, and a later refresh of the key in the same batch wins (log order)', async (t) => {
  const { cache, loader, products } = await setup(t);
  await products.refreshValues([{ key: '3', value: { v: 3 } }]);
  assert.deepEqual(await products.get(3), { v: 3 });
  assert.equal(loader.calls.length, 0, 'no load');
  await cache.batch(async () => {
    await products.refreshValues([{ key: 3, value: { v: 4 } }]);
    await products.refresh([3]);
  });
  assert.equal(products.peek(3), undefined, 'the refresh came after the value, so the entry is gone');
  await cache.batch(async () => {
    await products.refresh([3]);
    await products.refreshValues([{ key: 3, value: { v: 5 } }]);
  });
  assert.deepEqual(products.peek(3), { v: 5 });
});

test('refreshTags drops tagged entries and tagged loads in flight, and leaves others alone', async (t) => {
  const { loader, products } = await setup(t);
  await products.getOrLoad('top', () => ({ v: 1 }), { tags: ['category:7'] });
  await products.getOrLoad('other', () => ({ v: 2 }), { tags: ['category:8'] });
  const inFlight = products.getOrLoad('new', loader.load, { tags: ['category:7', 'x'] });
  const untagged = products.get(1);
  await products.refreshTags(['category:7']);
  assert.equal(products.peek('top'), undefined);
  assert.deepEqual(products.peek('other'), { v: 2 });
  await loader.resolve(0, { v: 3 });
  await loader.resolve(1, { v: 4 });
  assert.deepEqual(await inFlight, { v: 3 });
  assert.equal(products.peek('new'), undefined, 'the tagged load in flight was overtaken');
  assert.deepEqual(await untagged, { v: 4 });
  assert.deepEqual(products.peek(1), { v: 4 }, 'an untagged load is not touched by a tag');
});

test('an invalidation written by another server overtakes a load here once this server has synced it', async (t) => {
  const { h, cache, loader, products } = await setup(t);
  const other = h.cache({ serverIdentity: 'web-2' });
  other.region<Row>('product', { load: () => ({ v: 0 }) });
  await other.start();
  const pending = products.get(11);
  await other.refresh('product', [11]);
  await cache.sync();
  await loader.resolve(0, { v: 1 });
  assert.deepEqual(await pending, { v: 1 });
  assert.equal(products.peek(11), undefined);
});

test('a cold boot empties the region and discards its loads, with or without onColdBoot', async (t) => {
  for (const own of [false, true]) {
    await t.test(own ? 'with onColdBoot' : 'default', async (t) => {
      const loader = new ManualLoader<Row>();
      let products!: Region<Row>;
      let called = 0;
      const { h, cache } = await startedCache(
        t,
        (c) => {
          products = c.region<Row>('product', { load: loader.load });
        },
        own ? { onColdBoot: () => void (called += 1) } : {},
      );
      await products.getOrLoad(1, () => ({ v: 1 }));
      const pending = products.get(2);
      await cache.store.requestColdBoot('web-1');
      const result = await cache.sync();
      assert.equal(result.coldBoot, 'requested');
      assert.equal(products.peek(1), undefined);
      await loader.resolve(0, { v: 2 });
      assert.deepEqual(await pending, { v: 2 });
      assert.equal(products.peek(2), undefined);
      if (own) assert.equal(called, 1);
      void h;
    });
  }
});

test('keys: 42 and "42" name one entry, everywhere', async (t) => {
  const { products } = await setup(t);
  await products.getOrLoad(42, () => ({ v: 42 }));
  assert.deepEqual(products.peek('42'), { v: 42 });
  await products.refresh(['42']);
  assert.equal(products.peek(42), undefined);
  await products.getOrLoad('sku-7', () => ({ v: 7 }));
  assert.deepEqual(products.peek('sku-7'), { v: 7 });
  assert.equal(products.peek('042'), undefined, "'042' is not 42");
});
