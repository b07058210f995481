import express from 'express';
import type { AddressInfo } from 'node:net';
import { LRUCache } from 'lru-cache';
// In your application these are 'distcache', 'distcache/express' and 'distcache/refreshers'.
import { DistributedCache } from '../../src/index.js';
import { batchPerRequest } from '../../src/integrations/express.js';
import { lruRefresher } from '../../src/integrations/refreshers/index.js';
import { onStopRequest } from '../shared/processes.js';
import { sqliteKnex, type Product } from './db.js';

/** One web server: an Express app with an in-process LRU product cache kept in step by distcache. */
const knex = sqliteKnex(process.env.SQLITE_FILE!);
const products = new LRUCache<number, Product>({ max: 10_000 });
const cache = new DistributedCache({
  knex,
  serverIdentity: process.env.SERVER_IDENTITY,
  refreshers: [lruRefresher({ id: 'product', cache: products })],
  // Short for the demo; the default is one second.
  syncInterval: 100,
});
await cache.start();

const app = express();
app.use(express.json());
// Everything a request invalidates is written as one row, before its response is sent.
app.use(batchPerRequest(cache, { discardOnServerError: true }));

app.get('/products/:id', async (req, res) => {
  const id = Number(req.params.id);
  let product = products.get(id);
  const hit = product !== undefined;
  if (!product) {
    product = await knex<Product>('product').where({ id }).first();
    if (!product) return void res.sendStatus(404);
    products.set(id, product);
  }
  res.set('x-cache', hit ? 'hit' : 'miss').json(product);
});

app.put('/products/:id', async (req, res) => {
  const id = Number(req.params.id);
  await knex('product').where({ id }).update({ price: req.body.price });
  await cache.refresh('product', id);
  res.json({ ok: true });
});

/** A price list: many updates, many refreshes, still one row for the request. */
app.post('/prices', async (req, res) => {
  const prices = req.body as Array<{ id: number; price: number }>;
  await knex.transaction(async (trx) => {
    for (const { id, price } of prices) await trx('product').where({ id }).update({ price });
  });
  for (const { id } of prices) await cache.refresh('product', id);
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
