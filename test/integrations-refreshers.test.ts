import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LRUCache } from 'lru-cache';
import Keyv from 'keyv';
import { createCache } from 'cache-manager';
import { z } from 'zod';
import {
  cacheManagerRefresher,
  keyvRefresher,
  lruRefresher,
  mapRefresher,
  withPayloadSchema,
  RejectedPayloadError,
  isRejectedPayloadError,
} from '../src/integrations/refreshers/index.js';
import { errors, type CacheRefresher } from '../src/index.js';
import { harness } from './conformance/harness.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

interface Product {
  id: number;
  price: number;
}

test('mapRefresher: instructions from another server drop keys, clear, and set payload entries', async (t) => {
  const h = await harness(t, 'sqlite');
  const products = new Map<string, Product>([
    ['product:1', { id: 1, price: 10 }],
    ['product:2', { id: 2, price: 20 }],
    ['product:3', { id: 3, price: 30 }],
  ]);
  const refresher = mapRefresher({
    id: 'product',
    map: products,
    key: (id) => `product:${id}`,
    entry: (p: Product) => [`product:${p.id}`, p],
  });
  const a = h.cache({
    serverIdentity: 'a',
    refreshers: [mapRefresher({ id: 'product', map: new Map(), entry: (p: Product) => [p.id, p] })],
  });
  const b = h.cache({ serverIdentity: 'b', refreshers: [refresher] });
  await b.start();

  await a.refresh('product', 1);
  await a.remove('product', [2]);
  await b.sync();
  assert.deepEqual([...products.keys()], ['product:3']);
  await a.refreshPayload('product', [{ id: 4, price: 40 }]);
  await b.sync();
  assert.deepEqual(products.get('product:4'), { id: 4, price: 40 });
  await a.refreshAll('product');
  await b.sync();
  assert.equal(products.size, 0);
});

test('mapRefresher without entry takes no payloads; the default key is the id itself', async () => {
  const map = new Map<number | string, string>([
    [1, 'one'],
    ['1', 'string one'],
  ]);
  const refresher = mapRefresher({ id: 'plain', map });
  assert.equal(refresher.refreshPayload, undefined);
  await refresher.refresh!([1]);
  assert.deepEqual([...map.keys()], ['1'], 'ids keep their type: 1 is not "1"');
});

test('lruRefresher: works on a real LRUCache and runs its dispose', async () => {
  const disposed: string[] = [];
  const lru = new LRUCache<number, Product>({ max: 100, dispose: (_value, key, reason) => void disposed.push(`${key}:${reason}`) });
  for (let id = 1; id <= 4; id++) lru.set(id, { id, price: id * 10 });
  const refresher = lruRefresher({ id: 'product', cache: lru, entry: (p: Product) => [p.id, p] });
  await refresher.refresh!([1, 2]);
  assert.deepEqual([...lru.keys()].sort(), [3, 4]);
  assert.deepEqual(disposed, ['1:delete', '2:delete']);
  await refresher.refreshPayload!([{ id: 3, price: 33 }]);
  assert.deepEqual(lru.get(3), { id: 3, price: 33 });
  await refresher.refreshAll();
  assert.equal(lru.size, 0);
});

test('keyvRefresher: deletes one or many keys; refreshAll clears its own Keyv only', async () => {
  const products = new Keyv<Product>({ namespace: 'product' });
  const members = new Keyv<string>({ namespace: 'member' });
  for (let id = 1; id <= 3; id++) await products.set(`p:${id}`, { id, price: id });
  await members.set('m:1', 'alice');
  const refresher = keyvRefresher({ id: 'product', keyv: products, key: (id) => `p:${id}`, entry: (p: Product) => [`p:${p.id}`, p] });
  await refresher.refresh!([1]);
  assert.equal(await products.get('p:1'), undefined);
  await refresher.remove!([2, 3]);
  assert.equal(await products.get('p:2'), undefined);
  assert.equal(await products.get('p:3'), undefined);
  await refresher.refreshPayload!([{ id: 9, price: 90 }]);
  assert.deepEqual(await products.get('p:9'), { id: 9, price: 90 });
  await refresher.refreshAll();
  assert.equal(await products.get('p:9'), undefined);
  assert.equal(await members.get('m:1'), 'alice', 'another Keyv is kept');
});

test('cacheManagerRefresher: deletes and clears on every tier; keys default to String(id)', async () => {
  const l1 = new Keyv();
  const l2 = new Keyv();
  const cache = createCache({ stores: [l1, l2] });
  await cache.set('1', { id: 1, price: 10 });
  await cache.set('2', { id: 2, price: 20 });
  await cache.set('3', { id: 3, price: 30 });
  const refresher = cacheManagerRefresher({ id: 'product', cache, entry: (p: Product) => [String(p.id), p], ttl: 60_000 });
  await refresher.refresh!([1, 2]);
  assert.equal(await l1.get('1'), undefined);
  assert.equal(await l2.get('2'), undefined);
  assert.deepEqual(await l2.get('3'), { id: 3, price: 30 });
  await refresher.refreshPayload!([{ id: 4, price: 40 }]);
  assert.deepEqual(await cache.get('4'), { id: 4, price: 40 });
  await refresher.refreshAll();
  assert.equal(await l1.get('3'), undefined);
  assert.equal(await l2.get('4'), undefined);
});

/** Records what reached refreshPayload, so a test sees exactly which payloads were applied. */
function payloadRecorder(): CacheRefresher<Product> & { applied: Product[][]; refreshAlls: number } {
  const r = {
    id: 'product',
    applied: [] as Product[][],
    refreshAlls: 0,
    refreshAll() {
      r.refreshAlls += 1;
    },
    refreshPayload(payloads: Product[]) {
      r.applied.push(payloads);
    },
  };
  return r;
}

const ProductSchema = z.object({ id: z.number().int(), price: z.number().nonnegative(), currency: z.string().default('EUR') });

test('withPayloadSchema (zod): valid payloads are applied with the parsed value; invalid ones never are', async () => {
  const inner = payloadRecorder();
  const refresher = withPayloadSchema<Product>(inner, ProductSchema);
  await refresher.refreshPayload!([{ id: 1, price: 5 }]);
  assert.deepEqual(inner.applied, [[{ id: 1, price: 5, currency: 'EUR' }]], "the schema's output is applied: defaults filled in");
  const err = await Promise.resolve(
    refresher.refreshPayload!([
      { id: 2, price: 7 },
      { id: 'three', price: -1 },
    ] as never),
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof RejectedPayloadError);
  assert.ok(isRejectedPayloadError(err));
  assert.equal(err.code, 'E_REJECTED_PAYLOAD');
  assert.equal(err.rejected.length, 1);
  assert.match(err.message, /id: .*number/i);
  assert.match(err.message, /price/);
  assert.deepEqual(inner.applied[1], [{ id: 2, price: 7, currency: 'EUR' }], 'the valid payload of the call is still applied');
  assert.equal(inner.applied.length, 2);
});

test('withPayloadSchema (plain function): a throw rejects the payload', async () => {
  const inner = payloadRecorder();
  const parse = (value: unknown): Product => {
    const v = value as Partial<Product>;
    if (typeof v?.id !== 'number' || typeof v.price !== 'number') throw new Error('not a product');
    return { id: v.id, price: v.price };
  };
  const refresher = withPayloadSchema(inner, parse);
  await assert.rejects(async () => refresher.refreshPayload!([{ nope: true }] as never), /not a product/);
  assert.deepEqual(inner.applied, [], 'a call whose every payload is invalid applies nothing');
  assert.throws(() => withPayloadSchema({ id: 'x', refreshAll() {} }, parse), errors.InvalidOptionError);
  assert.throws(() => withPayloadSchema(inner, {} as never), errors.InvalidOptionError);
});

test('an invalid payload from another server is recorded as a failure and not applied', async (t) => {
  const h = await harness(t, 'sqlite');
  const inner = payloadRecorder();
  const a = h.cache({ serverIdentity: 'a', refreshers: [{ id: 'product', refreshAll() {}, refreshPayload() {} }] });
  const b = h.cache({ serverIdentity: 'b', refreshers: [withPayloadSchema<Product>(inner, ProductSchema)] });
  const failed: string[] = [];
  b.on('instruction:failed', (e) => failed.push(e.action));
  await b.start();
  await a.refreshPayload('product', [
    { id: 1, price: 10 },
    { id: 2, price: 'free' },
  ]);
  await b.sync();
  assert.deepEqual(inner.applied, [[{ id: 1, price: 10, currency: 'EUR' }]], 'only the valid payload ever reached the cache');
  const failures = await b.store.listFailures({ identity: 'b', limit: 10 });
  assert.equal(failures.length, 1);
  assert.equal(failures[0]!.refresher, 'product');
  assert.match(failures[0]!.error, /rejected 1 payload/);
  assert.deepEqual(failed, ['rejected-payload']);
});

test('a rejected payload is recorded with action rejected-payload, without retries or fallback', async (t) => {
  const h = await harness(t, 'sqlite');
  const inner = payloadRecorder();
  const a = h.cache({ serverIdentity: 'a', refreshers: [{ id: 'product', refreshAll() {}, refreshPayload() {} }] });
  const b = h.cache({ serverIdentity: 'b', refreshers: [withPayloadSchema<Product>(inner, ProductSchema)] });
  await b.start();
  await a.refreshPayload('product', [
    { id: 1, price: 10 },
    { id: 2, price: 'free' },
  ]);
  await b.sync();
  const failures = await b.store.listFailures({ identity: 'b', limit: 10 });
  assert.equal(failures[0]?.action, 'rejected-payload');
  assert.equal(inner.applied.length, 1, 'validation is deterministic: no retry');
  assert.equal(inner.refreshAlls, 0, 'no refreshAll fallback');
});
