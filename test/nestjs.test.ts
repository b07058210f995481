import 'reflect-metadata';
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { AddressInfo } from 'node:net';
import { Body, Controller, Get, Injectable, Module, Param, ParseIntPipe, Put, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import type { Knex } from 'knex';
import { DistributedCache, isDistcacheError, type Region } from '../src/index.js';
import { Cacheable, CacheEvict, DistcacheModule, InjectRegion } from '../src/integrations/nestjs/index.js';
import { openCaches } from '../src/open-resources.js';
import { harness } from './conformance/harness.js';
import { PG_URL } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { deferred, type Deferred } from './support/regions.js';
import { waitFor } from './support/wait.js';

checkLeaksAfterEach();

type Product = { id: number; name: string };

/** The test's handle on the app's "database": the product table and a gate that holds reads. */
class Db {
  reads = 0;
  gate: Deferred<void> | undefined;
  constructor(
    readonly knex: Knex,
    readonly table: string,
  ) {}
}

@Injectable()
class ProductService {
  constructor(
    readonly db: Db,
    @InjectRegion('product') readonly products: Region<Product>,
  ) {}

  @Cacheable('product', (id: number) => id)
  async find(id: number): Promise<Product | undefined> {
    this.db.reads += 1;
    const row = (await this.db.knex(this.db.table).where({ id }).first()) as Product | undefined;
    await this.db.gate?.promise; // read, then held: an update can overtake the read here
    return row ? { id: row.id, name: row.name } : undefined;
  }

  @CacheEvict('product', (id: number) => id)
  async rename(id: number, name: string): Promise<void> {
    await this.db.knex(this.db.table).where({ id }).update({ name });
  }

  /** Named by a decorator only: the module creates the region. */
  @Cacheable('product-count', () => 'all')
  async count(): Promise<number> {
    this.db.reads += 1;
    const [{ n }] = (await this.db.knex(this.db.table).count({ n: '*' })) as [{ n: number | string }];
    return Number(n);
  }
}

@Controller('products')
class ProductController {
  constructor(private readonly service: ProductService) {}

  @Get(':id')
  async get(@Param('id', ParseIntPipe) id: number): Promise<Product | { missing: true }> {
    return (await this.service.find(id)) ?? { missing: true };
  }

  // The decorator above Nest's own: Nest's route metadata on the method must survive the wrapping.
  @CacheEvict('product', (id: number) => id)
  @Put(':id')
  async put(@Param('id', ParseIntPipe) id: number, @Body() body: { name: string }): Promise<{ ok: true }> {
    await this.service.db.knex(this.service.db.table).where({ id }).update({ name: body.name });
    return { ok: true };
  }
}

/** A Nest application (Express adapter) on PostgreSQL, with its own tables; closed when the test ends. */
async function nestApp(t: TestContext) {
  // Registered before the harness's clean-up, so the app closes before its tables are dropped.
  let close = async () => undefined as void;
  t.after(() => close());
  const h = await harness(t, 'postgres');
  const table = `${h.prefix}app_data`;
  await h.knex.schema.createTable(table, (tb) => {
    tb.integer('id').primary();
    tb.string('name');
  });
  await h.knex(table).insert([
    { id: 1, name: 'one' },
    { id: 2, name: 'two' },
  ]);
  const db = new Db(h.knex, table);
  @Module({
    imports: [
      DistcacheModule.forRoot({
        // `connection`: the module's cache owns its pool, and app.close() must leave nothing open.
        cache: {
          connection: PG_URL,
          tablePrefix: h.prefix,
          serverIdentity: 'nest-1',
          syncInterval: 60_000,
          notify: false,
          pruneSchedule: false,
        },
        regions: { product: { max: 100 } },
      }),
    ],
    controllers: [ProductController],
    providers: [ProductService, { provide: Db, useValue: db }],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  let closed = false;
  close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
  };
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  const other = h.cache({ serverIdentity: 'other' }); // another server on the same tables
  return { h, app, db, url, other, close: () => close(), cache: app.get(DistributedCache), service: app.get(ProductService) };
}

async function json(url: string, init?: RequestInit): Promise<unknown> {
  const res = await fetch(url, { ...init, headers: { 'content-type': 'application/json', connection: 'close' } });
  assert.equal(res.status, res.ok ? res.status : 200, `${init?.method ?? 'GET'} ${url}: ${res.status}`);
  return res.json();
}

test('DistcacheModule: the cache and its regions in DI, started on init, stopped by app.close() with nothing left open', async (t) => {
  const before = openCaches().length;
  const { app, cache, service, close } = await nestApp(t);
  assert.ok(cache instanceof DistributedCache);
  assert.equal(openCaches().length, before + 1, 'onModuleInit started the cache');
  assert.equal((await cache.health()).healthy, true);
  assert.equal(service.products, cache.getRegion('product'), '@InjectRegion gives the region forRoot declared');
  assert.equal(service.products.options.max, 100);
  assert.ok(cache.getRegion('product-count'), 'a region only a decorator names is created before start');
  assert.equal(app.get(DistributedCache), cache, 'one cache for the app');
  await close();
  assert.equal(openCaches().length, before, 'onApplicationShutdown stopped it; the leak check proves its pool and timers are gone');
  await assert.rejects(
    service.find(1),
    (e) => isDistcacheError(e, 'E_UNBOUND_DECORATOR'),
    'after close, a call fails instead of reaching a stopped cache',
  );
});

test('@Cacheable: a route reads through the region, once per key; concurrent calls load once (single-flight)', async (t) => {
  const { db, url, service } = await nestApp(t);
  assert.deepEqual(await json(`${url}/products/1`), { id: 1, name: 'one' });
  assert.deepEqual(await json(`${url}/products/1`), { id: 1, name: 'one' });
  assert.equal(db.reads, 1, 'the second request was a hit');
  assert.deepEqual(await json(`${url}/products/9`), { missing: true }, 'undefined is "not found"');

  db.reads = 0;
  db.gate = deferred<void>();
  const answers = Promise.all(Array.from({ length: 20 }, () => json(`${url}/products/2`)));
  await waitFor(() => db.reads === 1, { describe: () => `reads: ${db.reads}` });
  db.gate.resolve();
  db.gate = undefined;
  assert.deepEqual(
    await answers,
    Array.from({ length: 20 }, () => ({ id: 2, name: 'two' })),
  );
  assert.equal(db.reads, 1, '20 concurrent requests, one read');
  assert.equal(service.products.stats().loads, 3);
  assert.equal(await service.count(), 2);
  assert.equal(await service.count(), 2);
  assert.equal(db.reads, 2, 'count() read once');
});

test('@CacheEvict: after the method resolves every server drops the key; a read it overtook is never cached', async (t) => {
  const { db, url, service, cache, other } = await nestApp(t);
  const otherProducts = other.region<Product>('product', { load: async (id) => service.db.knex(db.table).where({ id }).first() });
  await other.start();
  assert.deepEqual(await otherProducts.get(1), { id: 1, name: 'one' });
  assert.deepEqual(await json(`${url}/products/1`), { id: 1, name: 'one' });

  // On the controller (decorator above @Put): the route still works, and this server reads the new name.
  assert.deepEqual(await json(`${url}/products/1`, { method: 'PUT', body: JSON.stringify({ name: 'uno' }) }), { ok: true });
  assert.deepEqual(await json(`${url}/products/1`), { id: 1, name: 'uno' });
  await other.sync();
  assert.deepEqual(await otherProducts.get(1), { id: 1, name: 'uno' }, 'the other server dropped it too');

  // A read that began before a write and ends after its eviction answers its caller but is not cached.
  db.gate = deferred<void>();
  const reads = db.reads;
  await service.products.refresh(2); // empty the entry, so the next read loads
  const stale = service.find(2);
  await waitFor(() => db.reads === reads + 1, { describe: () => `reads: ${db.reads}` });
  await service.rename(2, 'dos'); // on the service: write, then evict (the read above is overtaken)
  db.gate.resolve();
  db.gate = undefined;
  assert.deepEqual(await stale, { id: 2, name: 'two' }, 'the overtaken read answers its own caller');
  assert.deepEqual(await json(`${url}/products/2`), { id: 2, name: 'dos' }, 'and was not cached: the next read loads the new name');
  assert.equal(service.products.stats().loadsDiscarded, 1);

  // An invalidation written by another server reaches the decorated method's entries.
  await other.refresh('product', [2]);
  await cache.sync();
  assert.equal(service.products.peek(2), undefined);
});

test('a decorated method on an instance Nest did not make: E_UNBOUND_DECORATOR; bad decorator arguments: E_INVALID_OPTION', async () => {
  const loose = new ProductService(new Db(undefined as unknown as Knex, 'none'), undefined as unknown as Region<Product>);
  await assert.rejects(loose.find(1), (e) => isDistcacheError(e, 'E_UNBOUND_DECORATOR') && /ProductService\.find/.test(e.message));
  await assert.rejects(loose.rename(1, 'x'), (e) => isDistcacheError(e, 'E_UNBOUND_DECORATOR'));
  assert.throws(
    () => Cacheable('', (id: number) => id),
    (e) => isDistcacheError(e, 'E_INVALID_OPTION'),
  );
  assert.throws(
    () => CacheEvict('product', 'id' as never),
    (e) => isDistcacheError(e, 'E_INVALID_OPTION'),
  );
  assert.throws(
    () => Cacheable('product', () => 1)(ProductService, 'find', Object.getOwnPropertyDescriptor(ProductService.prototype, 'find')!),
    (e) => isDistcacheError(e, 'E_INVALID_OPTION') && /static method/.test(e.message),
  );
  assert.throws(
    () => DistcacheModule.forRoot({} as never),
    (e) => isDistcacheError(e, 'E_INVALID_OPTION'),
  );
});

test('forRootAsync: options from a factory that injects a provider of another module; NestFactory.create, closed cleanly', async (t) => {
  const opened: { app?: INestApplication } = {};
  t.after(() => opened.app?.close()); // before the harness's clean-up: the app closes before its tables are dropped
  const h = await harness(t, 'postgres');
  @Injectable()
  class Config {
    readonly prefix = h.prefix;
  }
  @Module({ providers: [Config], exports: [Config] })
  class ConfigModule {}
  @Injectable()
  class Reader {
    calls = 0;
    @Cacheable('thing', (id: number) => id)
    async thing(id: number): Promise<{ id: number }> {
      this.calls += 1;
      return { id };
    }
  }
  @Module({
    imports: [
      DistcacheModule.forRootAsync({
        imports: [ConfigModule],
        inject: [Config],
        useFactory: (config: Config) => ({
          cache: { connection: PG_URL, tablePrefix: config.prefix, serverIdentity: 'nest-async', notify: false, pruneSchedule: false },
          regions: { thing: { max: 5 } },
        }),
        regions: ['thing'],
        isGlobal: true,
      }),
    ],
    providers: [Reader],
  })
  class AppModule {}
  const app = (opened.app = await NestFactory.create(AppModule, { logger: false }));
  await app.init();
  const reader = app.get(Reader);
  assert.deepEqual(await reader.thing(3), { id: 3 });
  assert.deepEqual(await reader.thing(3), { id: 3 });
  assert.equal(reader.calls, 1);
  assert.equal(app.get(DistributedCache).getRegion('thing')?.options.max, 5, 'the factory gave the region its options');
  await app.close();
  assert.equal(openCaches().includes(app.get(DistributedCache)), false);
});
