// A NestJS application as a user writes it, run by test/package-install against the packed tarball
// next to each supported Nest major. Plain JavaScript, so no compile step: Nest's decorators are
// applied as functions, the way TypeScript's legacy decorators compile. Two of these share one
// SQLite file: GET reads through @Cacheable, PUT writes through @CacheEvict, and the other process
// drops its copy.
import 'reflect-metadata';
import { Body, Controller, Get, Inject, Injectable, Module, Param, ParseIntPipe, Put } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import knexFactory from 'knex';
import { knexConfigFromUrl, migrate } from 'distcache';
import { Cacheable, CacheEvict, DistcacheModule, InjectRegion } from 'distcache/nestjs';

const url = process.env.DATABASE_URL;
const knex = knexFactory(knexConfigFromUrl(url)); // the app's own data; the cache opens its own pool
await migrate(knex); // distcache's tables; safe from every process at once
if (!(await knex.schema.hasTable('product'))) {
  await knex.schema.createTable('product', (t) => {
    t.integer('id').primary();
    t.integer('price');
  });
  await knex('product').insert({ id: 1, price: 10 });
}

/** What TypeScript emits for decorators on a method: each one, the bottom one first, on its descriptor. */
function decorateMethod(target, name, ...decorators) {
  let descriptor = Object.getOwnPropertyDescriptor(target.prototype, name);
  for (const decorator of decorators.reverse()) descriptor = decorator(target.prototype, name, descriptor) ?? descriptor;
  Object.defineProperty(target.prototype, name, descriptor);
}

class ProductService {
  constructor(products) {
    this.products = products;
  }
  async find(id) {
    return knex('product').where({ id }).first(); // undefined is "not found"
  }
  async setPrice(id, price) {
    await knex('product').where({ id }).update({ price }); // done, then every process drops product `id`
  }
}
Injectable()(ProductService);
InjectRegion('product')(ProductService, undefined, 0);
decorateMethod(
  ProductService,
  'find',
  Cacheable('product', (id) => id),
);
decorateMethod(
  ProductService,
  'setPrice',
  CacheEvict('product', (id) => id),
);

class ProductController {
  constructor(service) {
    this.service = service;
  }
  async get(id) {
    return (await this.service.find(id)) ?? { missing: true };
  }
  async put(id, body) {
    await this.service.setPrice(id, body.price);
    return this.service.find(id);
  }
  /** The region's counters: the test tells a cached read from a database read by `loads`. */
  stats() {
    const { loads, hits } = this.service.products.stats();
    return { loads, hits };
  }
}
Controller()(ProductController);
Inject(ProductService)(ProductController, undefined, 0); // no emitted parameter types in JavaScript
decorateMethod(ProductController, 'get', Get('products/:id'));
Param('id', ParseIntPipe)(ProductController.prototype, 'get', 0);
decorateMethod(ProductController, 'put', Put('products/:id'));
Param('id', ParseIntPipe)(ProductController.prototype, 'put', 0);
Body()(ProductController.prototype, 'put', 1);
decorateMethod(ProductController, 'stats', Get('stats'));

class AppModule {}
Module({
  imports: [
    DistcacheModule.forRootAsync({
      useFactory: () => ({
        // `connection`: the module's cache owns its pool, and app.close() stops the cache and closes it.
        cache: { connection: url, serverIdentity: process.env.POD_NAME },
        regions: { product: { ttl: '10m' } },
      }),
      regions: ['product'],
    }),
  ],
  controllers: [ProductController],
  providers: [ProductService],
})(AppModule);

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
console.log(`listening on port ${app.getHttpServer().address().port}`);
// Not app.enableShutdownHooks(): Nest would re-raise SIGTERM after close and kill the process. Here
// the process must exit by itself once app.close() (the cache stopped) and the app's pool are done:
// it cannot while anything is left open.
process.once('SIGTERM', () => void app.close().then(() => knex.destroy()));
