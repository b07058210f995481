import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { describe, test, type TestContext } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import * as forExpress from '../src/integrations/express.js';
import * as forFastify from '../src/integrations/fastify.js';
import type { DistributedCache, Region } from '../src/index.js';
import { harness, type Harness } from './conformance/harness.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

type Item = { v: number };

/**
 * Two servers on one database, A and B, each an HTTP app with the requestScope middleware over a
 * region of the same table. Neither polls by itself (syncInterval 60 s, no wake-up): B sees A's
 * write only when a request hands it A's token.
 */
async function servers(h: Harness) {
  const table = `${h.prefix}item`;
  await h.knex.schema.createTable(table, (tb) => {
    tb.integer('id').primary();
    tb.integer('v').notNullable();
  });
  await h.knex(table).insert([{ id: 1, v: 0 }]);
  const loads: number[] = [];
  const load = async (id: unknown) => {
    loads.push(Number(id));
    const row = await h.knex(table).where({ id }).first('v');
    return row ? { v: Number(row.v) } : undefined;
  };
  const a = h.cache({ serverIdentity: 'a' });
  const b = h.cache({ serverIdentity: 'b' });
  const items: Record<'a' | 'b', Region<Item>> = {
    a: a.region<Item>('item', { load, perRequest: true }),
    b: b.region<Item>('item', { load, perRequest: true }),
  };
  await a.start();
  await b.start();
  const update = async (cache: DistributedCache, id: number, v: number) => {
    await h.knex(table).where({ id }).update({ v });
    await cache.refresh('item', [id]); // gathered when batchPerRequest is mounted
  };
  return { a, b, items, loads, update };
}

async function listen(t: TestContext, app: express.Express): Promise<string> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('express requestScope', () => {
  test('a write’s response carries the token; the next request on another server waits for it and reads the new value', async (t) => {
    const h = await harness(t, 'sqlite');
    const { a, b, items, loads, update } = await servers(h);
    const appA = express();
    appA.use(forExpress.requestScope(a, { cookie: true }));
    appA.use(forExpress.batchPerRequest(a)); // mounted after: its row is in the request's scope
    appA.put('/items/:id/:v', async (req, res) => {
      await update(a, Number(req.params.id), Number(req.params.v));
      res.json({ ok: true });
    });
    appA.get('/quiet', (_req, res) => void res.json({ ok: true }));
    const appB = express();
    const waits: boolean[] = [];
    appB.use(forExpress.requestScope(b, { cookie: true, onWait: ({ applied }) => void waits.push(applied) }));
    appB.get('/items/:id', async (req, res) => {
      const id = Number(req.params.id);
      // Twenty reads in one request: one load at most (the request cache).
      const reads = await Promise.all(Array.from({ length: 20 }, () => items.b.get(id)));
      res.json(reads[0]);
    });
    const [urlA, urlB] = [await listen(t, appA), await listen(t, appB)];

    assert.deepEqual(await (await fetch(`${urlB}/items/1`)).json(), { v: 0 });
    const written = await fetch(`${urlA}/items/1/5`, { method: 'PUT' });
    const position = written.headers.get('distcache-position');
    assert.ok(position, 'a response to a request that wrote carries the token');
    const cookie = `distcache-position=${position}; Max-Age=60; Path=/; HttpOnly; SameSite=Lax`;
    assert.equal(written.headers.get('set-cookie'), cookie);
    assert.equal((await fetch(`${urlA}/quiet`)).headers.get('distcache-position'), null, 'no write, no token');

    assert.deepEqual(await (await fetch(`${urlB}/items/1`)).json(), { v: 0 }, 'without the token B answers the old value');
    const loadsBefore = loads.length;
    const fresh = await fetch(`${urlB}/items/1`, { headers: { 'distcache-position': position! } });
    assert.deepEqual(await fresh.json(), { v: 5 }, 'with it, B waited for the write and reads the new value');
    assert.equal(loads.length - loadsBefore, 1, 'twenty reads in the request, one load');
    assert.deepEqual(waits, [true]);
    assert.equal(fresh.headers.get('distcache-position'), null, 'a request that only read carries no new token');

    // The cookie works the same way.
    await fetch(`${urlA}/items/1/6`, { method: 'PUT' }).then(async (r) => {
      const cookie = r.headers.get('set-cookie')!.split(';')[0]!;
      assert.deepEqual(await (await fetch(`${urlB}/items/1`, { headers: { cookie: `a=b; ${cookie}` } })).json(), { v: 6 });
    });
    // A token that is not one is ignored; the request runs.
    const bad = await fetch(`${urlB}/items/1`, { headers: { 'distcache-position': 'garbage' } });
    assert.equal(bad.status, 200);
    const huge = await fetch(`${urlB}/items/1`, { headers: { 'distcache-position': 'x'.repeat(10_000) } });
    assert.equal(huge.status, 200);
  });

  test('options are checked when the middleware is made', () => {
    const cache = { waitFor: async () => true, openRequest: () => undefined } as never;
    for (const bad of [{ header: 'bad header' }, { waitTimeout: 'soon' }, { cookie: { name: 'a;b' } }, { cookie: { sameSite: 'Maybe' } }]) {
      assert.throws(() => forExpress.requestScope(cache, bad as never), { code: 'E_INVALID_OPTION' }, JSON.stringify(bad));
    }
  });
});

describe('fastify requestScope', () => {
  test('the same round trip through two fastify servers', async (t) => {
    const h = await harness(t, 'sqlite');
    const { a, b, items, loads, update } = await servers(h);
    const appA = Fastify();
    await appA.register(forFastify.requestScope, { cache: a });
    await appA.register(forFastify.batchPerRequest, { cache: a });
    appA.put('/items/:id/:v', async (request) => {
      const { id, v } = request.params as { id: string; v: string };
      await update(a, Number(id), Number(v));
      return { ok: true };
    });
    const appB = Fastify();
    await appB.register(forFastify.requestScope, { cache: b });
    appB.get('/items/:id', async (request) => {
      const id = Number((request.params as { id: string }).id);
      const reads = await Promise.all(Array.from({ length: 20 }, () => items.b.get(id)));
      return reads[0];
    });
    t.after(async () => {
      await appA.close();
      await appB.close();
    });
    await appA.ready();
    await appB.ready();
    assert.deepEqual((await appB.inject({ url: '/items/1' })).json(), { v: 0 });
    const written = await appA.inject({ method: 'PUT', url: '/items/1/7' });
    const position = written.headers['distcache-position'] as string;
    assert.ok(position);
    assert.deepEqual((await appB.inject({ url: '/items/1' })).json(), { v: 0 }, 'without the token B answers the old value');
    const loadsBefore = loads.length;
    const fresh = await appB.inject({ url: '/items/1', headers: { 'distcache-position': position } });
    assert.deepEqual(fresh.json(), { v: 7 });
    assert.equal(loads.length - loadsBefore, 1, 'twenty reads in the request, one load');
    assert.equal((await appB.inject({ url: '/items/1', headers: { 'distcache-position': '1.zz.nope00' } })).statusCode, 200);
  });

  test('registering without a cache fails with a message', async () => {
    const app = Fastify();
    await assert.rejects(async () => {
      await app.register(forFastify.requestScope, {} as never);
      await app.ready();
    }, /pass the cache/);
    await app.close();
  });
});
