import express from 'express';
import knexFactory from 'knex';
import { DistributedCache, knexConfigFromUrl, migrate } from 'distcache';

// PostgreSQL (postgres://…), MySQL (mysql://…) or a SQLite file shared by every server.
const knex = knexFactory(knexConfigFromUrl(process.env.DATABASE_URL ?? 'sqlite://app.sqlite'));
await migrate(knex); // distcache's own tables; safe from every server at once
if (!(await knex.schema.hasTable('product'))) {
  await knex.schema.createTable('product', (t) => {
    t.integer('id').primary();
    t.integer('price');
  });
  await knex('product').insert({ id: 1, price: 10 });
}

const cache = new DistributedCache({ knex, serverIdentity: process.env.POD_NAME });
const products = cache.region('product', {
  load: (id) => knex('product').where({ id }).first(), // undefined means "not found"
  ttl: '10m',
});
await cache.start();

const app = express().use(express.json());
app.get('/products/:id', async (req, res) => {
  const product = await products.get(Number(req.params.id)); // in memory after the first read
  product ? res.json(product) : res.sendStatus(404);
});
app.put('/products/:id', async (req, res) => {
  const id = Number(req.params.id);
  await knex.transaction(async (trx) => {
    await trx('product').where({ id }).update({ price: req.body.price });
    await products.refresh([id], { trx }); // every server drops its copy once this commits
  });
  res.json(await products.get(id));
});

const server = app.listen(Number(process.env.PORT ?? 3000), () => console.log(`listening on port ${server.address().port}`));
process.on('SIGTERM', () => server.close(() => cache.stop().then(() => knex.destroy())));
