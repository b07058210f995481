import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LoadContext, Region } from '../src/index.js';
import { deferred, ManualClock, settle, startedCache } from './support/regions.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/** The loader context: ttl, tags and skip decided once the value is known, for load and getOrLoad alike. */

type Row = { v: number; hot?: boolean; draft?: boolean; category?: number };

test('ctx.ttl sets the entry ttl, ctx.tags its tags, ctx.skip answers and stores nothing', async (t) => {
  const clock = new ManualClock();
  let products!: Region<Row>;
  await startedCache(t, (c) => {
    products = c.region<Row>('product', {
      clock,
      ttl: '10m',
      load: (id, ctx) => {
        const row: Row = { v: Number(id), hot: id === 1, draft: id === 3, category: 7 };
        if (row.draft) ctx.skip();
        else ctx.ttl(row.hot ? 100 : '1h').tags([`category:${row.category}`]);
        return row;
      },
    });
  });
  await products.getMany([1, 2, 3]);
  assert.equal(products.peek(3), undefined, 'skipped: answered, not stored');
  assert.equal((await products.get(3))?.v, 3);
  clock.advance(101);
  assert.equal(products.peek(1), undefined, 'its own ttl of 100 ms ran out');
  assert.equal(products.peek(2)?.v, 2, "the other's ttl of an hour did not");
  await products.refreshTags(['category:7']);
  assert.equal(products.peek(2), undefined, 'tags given through ctx reach the entry');
});

test('getOrLoad gets the same context', async (t) => {
  let products!: Region<Row>;
  await startedCache(t, (c) => {
    products = c.region<Row>('product', {});
  });
  const loader = (id: unknown, ctx: LoadContext) => {
    ctx.tags(['g']);
    return { v: Number(id) };
  };
  await products.getOrLoad(5, loader);
  await products.refreshTags(['g']);
  assert.equal(products.peek(5), undefined);
  await products.getOrLoad(6, (_id, ctx) => (ctx.skip(), { v: 6 }));
  assert.equal(products.peek(6), undefined);
  await assert.rejects(
    products.getOrLoad(7, (_id, ctx) => (ctx.ttl(-5), { v: 7 })),
    { code: 'E_INVALID_OPTION' },
  );
});

test('tags given late: a refreshTags applied while the load ran discards it (it could not reach the load in flight)', async (t) => {
  let products!: Region<Row>;
  const gate = deferred<void>();
  await startedCache(t, (c) => {
    products = c.region<Row>('product', {
      load: async (id, ctx) => {
        await gate.promise;
        ctx.tags(['category:7']);
        return { v: Number(id) };
      },
    });
  });
  const read = products.get(1);
  await products.refreshTags(['category:7']);
  gate.resolve();
  assert.deepEqual(await read, { v: 1 });
  await settle();
  assert.equal(products.peek(1), undefined);
  assert.equal(products.stats().loadsDiscarded, 1);
  assert.deepEqual(await products.get(2), { v: 2 }, 'with no tag invalidation during its load, a load with late tags stores');
  assert.deepEqual(products.peek(2), { v: 2 });
});
