import express from 'express';
import type { AddressInfo } from 'node:net';
import { DistributedCache } from 'distcache';
import { batchPerRequest } from 'distcache/express';
import { onStopRequest } from '../shared/processes.js';
import { sqliteKnex, type Product } from './db.js';

/**
 * One web server: an Express app with an in-process product cache (a distcache region, over
 * lru-cache) that loads through and is kept in step with the other servers. A region, not a
 * read-through written by hand over an LRU: an invalidation that arrives while a load is in flight
 * would otherwise let that load store the old price (docs/design.md, "the read-through race").
 */
const knex = sqliteKnex(process.env.SQLITE_FILE!);
const cache = new DistributedCache({
  knex,
  serverIdentity: process.env.SERVER_IDENTITY,
  // Short for the demo; the default is one second.
  syncInterval: 100,
});
const products = cache.region<Product>('product', {
  load: (id) =>
    knex<Product>('product')
      .where({ id: Number(id) })
      .first(),
  max: 10_000,
});
await cache.start();

const app = express();
app.use(express.json());
// Everything a request invalidates is written as one row, before its response is sent.
app.use(batchPerRequest(cache, { discardOnServerError: true }));

app.get('/products/:id', async (req, res) => {
  // '7' from the route and 7 from a row name one entry.
  const hit = products.peek(req.params.id) !== undefined;
  const product = await products.get(req.params.id);
  if (!product) return void res.sendStatus(404);
  res.set('x-cache', hit ? 'hit' : 'miss').json(product);
});

app.put('/products/:id', async (req, res) => {
  const id = Number(req.params.id);
  await knex('product').where({ id }).update({ price: req.body.price });
  await products.refresh(id);
  res.json({ ok: true });
});

/** A price list: many updates, many refreshes, still one row for the request. */
app.post('/prices', async (req, res) => {
  const prices = req.body as Array<{ id: number; price: number }>;
  await knex.transaction(async (trx) => {
    for (const { id, price } of prices) await trx('product').where({ id }).update({ price });
  });
  for (const { id } of prices) await products.refresh(id);
  res.json({ updated: prices.length });
});

const server = app.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'listening', port: (server.address() as AddressInfo).port });
});

onStopRequest(async () => {
  await cache.stop();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await knex.destroy();
});
