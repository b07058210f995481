import Fastify from 'fastify';
import Keyv from 'keyv';
import { createCache } from 'cache-manager';
import { Registry } from 'prom-client';
import { DistributedCache } from 'distcache';
import { batchPerRequest } from 'distcache/fastify';
import { cacheManagerRefresher } from 'distcache/refreshers';
import { registerMetrics } from 'distcache/prometheus';
import { onStopRequest } from '../shared/processes.js';
import { examplePrefix, pgKnex } from '../shared/postgres.js';

interface Product {
  id: number;
  name: string;
  price: number;
}

/** One Fastify server: a cache-manager product cache kept in step by distcache, with /metrics. */
const prefix = examplePrefix('example_fastify_');
const productTable = `${prefix}product`;
const knex = pgKnex();
const products = createCache({ stores: [new Keyv()] });
const cache = new DistributedCache({
  knex,
  tablePrefix: prefix,
  serverIdentity: process.env.SERVER_IDENTITY,
  refreshers: [cacheManagerRefresher({ id: 'product', cache: products, key: (id) => `product:${id}` })],
  syncInterval: 100, // short for the demo; the default is one second
});
const registry = new Registry();
registerMetrics(cache, { registry });
await cache.start();

const app = Fastify();
await app.register(batchPerRequest, { cache, discardOnServerError: true });

app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));

app.get<{ Params: { id: string } }>('/products/:id', async (request, reply) => {
  const id = Number(request.params.id);
  let product = await products.get<Product>(`product:${id}`);
  const hit = product !== undefined && product !== null;
  if (!hit) {
    product = await knex<Product>(productTable).where({ id }).first();
    if (!product) return reply.code(404).send();
    await products.set(`product:${id}`, product);
  }
  return reply.header('x-cache', hit ? 'hit' : 'miss').send(product);
});

app.put<{ Params: { id: string }; Body: { price: number } }>('/products/:id', async (request) => {
  const id = Number(request.params.id);
  // The data and the instruction commit together: no server can miss the change, none sees it early.
  await knex.transaction(async (trx) => {
    await trx(productTable).where({ id }).update({ price: request.body.price });
    await cache.refresh('product', id, { trx });
  });
  return { ok: true };
});

const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.send?.({ type: 'listening', port: Number(new URL(address).port) });

onStopRequest(async () => {
  await cache.stop();
  await app.close();
  await knex.destroy();
});
