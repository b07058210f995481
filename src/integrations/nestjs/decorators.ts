import { errors } from '../../errors.js';
import type { Region } from '../../regions/region.js';
import type { RegionKey } from '../../regions/keys.js';
import type { LoadOptions } from '../../regions/options.js';

/** What a decorated method's `this` is bound to by DistcacheModule at init: the regions by id. */
type Regions = ReadonlyMap<string, Region<unknown>>;

/** reflect-metadata's API, which NestJS loads; typed here so this file needs none of its own. */
const metadata = Reflect as unknown as {
  getOwnMetadataKeys?(target: object): unknown[];
  getOwnMetadata?(key: unknown, target: object): unknown;
  defineMetadata?(key: unknown, value: unknown, target: object): void;
};

/** Region ids named by @Cacheable/@CacheEvict, by the prototype that declares the methods. */
const declared = new WeakMap<object, Set<string>>();
/** Instances DistcacheModule has bound, with their regions. Weak: an instance Nest drops is not kept. */
const bound = new WeakMap<object, Regions>();

/**
 * Caches the method's result in a region, by the key `keyOf` computes from the arguments: a hit
 * answers without calling the method, and concurrent calls for one key call it once
 * (`region.getOrLoad`, single-flight). An invalidation of the key on any server (`region.refresh`,
 * `@CacheEvict`, `cache.refresh`) discards a call still in flight, so a value read before a write
 * is never cached after it. `undefined` from the method means "not found" (cached only with the
 * region's `cacheMisses`). The decorated method returns a Promise.
 *
 * The region is created with default options if the module's `regions` does not declare it.
 * Singleton providers and controllers only: DistcacheModule binds their instances at init.
 *
 * @example
 * import { Injectable } from '@nestjs/common';
 * import { Cacheable } from 'distcache/nestjs';
 *
 *  @Injectable()
 * class ProductService {
 *   @Cacheable('product', (id: number) => id, { ttl: '10m' })
 *   async find(id: number): Promise<Product | undefined> {
 *     return db.product(id);
 *   }
 * }
 */
export function Cacheable<A extends unknown[]>(region: string, keyOf: (...args: A) => RegionKey, options?: LoadOptions): MethodDecorator {
  checkArguments('Cacheable', region, keyOf);
  return decorate(
    'Cacheable',
    region,
    (original, where) =>
      function cached(this: object, ...args: unknown[]): Promise<unknown> {
        let key: RegionKey;
        let r: Region<unknown>;
        try {
          r = regionOf(this, region, where);
          key = keyOf.apply(this, args as A);
        } catch (err) {
          return Promise.reject(err);
        }
        return r.getOrLoad(key, () => original.apply(this, args) as unknown, options);
      },
  );
}

/**
 * After the method resolves, every server drops the keys `keysOf` computes from the arguments
 * (`region.refresh`): write to the database in the method, and the decorator invalidates once
 * the write is done. If the method throws, nothing is dropped. The decorated method returns a
 * Promise that resolves once the invalidation is written and applied on this server.
 *
 * @example
 * import { Injectable } from '@nestjs/common';
 * import { CacheEvict } from 'distcache/nestjs';
 *
 *  @Injectable()
 * class ProductService {
 *   @CacheEvict('product', (id: number) => id)
 *   async rename(id: number, name: string): Promise<void> {
 *     await db.renameProduct(id, name);
 *   }
 * }
 */
export function CacheEvict<A extends unknown[]>(region: string, keysOf: (...args: A) => RegionKey | RegionKey[]): MethodDecorator {
  checkArguments('CacheEvict', region, keysOf);
  return decorate(
    'CacheEvict',
    region,
    (original, where) =>
      async function evicting(this: object, ...args: unknown[]): Promise<unknown> {
        const r = regionOf(this, region, where);
        const keys = keysOf.apply(this, args as A);
        const result: unknown = await original.apply(this, args);
        await r.refresh(keys);
        return result;
      },
  );
}

/** @internal The region ids the decorated methods of a class (this prototype and its bases) name. */
export function regionsNamedBy(prototype: object): Set<string> {
  const ids = new Set<string>();
  for (let p: object | null = prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const id of declared.get(p) ?? []) ids.add(id);
  }
  return ids;
}

/** @internal Binds an instance's decorated methods to these regions (DistcacheModule at init). */
export function bindInstance(instance: object, regions: Regions): void {
  bound.set(instance, regions);
}

/** @internal Unbinds an instance (DistcacheModule at shutdown): a call after it fails instead of reaching a stopped cache. */
export function unbindInstance(instance: object): void {
  bound.delete(instance);
}

type Method = (...args: unknown[]) => unknown;

function decorate(name: string, region: string, wrap: (original: Method, where: string) => Method): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    const where = `@${name} on ${typeof target === 'function' ? target.name : target.constructor.name}.${String(propertyKey)}`;
    if (typeof target === 'function') {
      throw new errors.InvalidOptionError(`${where}: a static method has no instance to bind; decorate an instance method`);
    }
    // A TC39 decorator call passes (method, context); Nest's decorators, and so these, are the legacy kind.
    if (descriptor === undefined || typeof descriptor.value !== 'function') {
      throw new errors.InvalidOptionError(
        `${where}: not a method, or not a legacy decorator call; set "experimentalDecorators": true in tsconfig.json, as NestJS requires`,
      );
    }
    let ids = declared.get(target);
    if (!ids) declared.set(target, (ids = new Set()));
    ids.add(region);
    const original = descriptor.value as Method;
    const wrapped = wrap(original, where);
    Object.defineProperty(wrapped, 'name', { value: original.name });
    // Metadata Nest's own decorators stored on the method (route, guards, pipes) stays with it.
    for (const key of metadata.getOwnMetadataKeys?.(original) ?? []) {
      metadata.defineMetadata?.(key, metadata.getOwnMetadata?.(key, original), wrapped);
    }
    descriptor.value = wrapped as typeof descriptor.value;
    return descriptor;
  };
}

function regionOf(instance: object, region: string, where: string): Region<unknown> {
  const r = bound.get(instance)?.get(region);
  if (!r) {
    throw new errors.UnboundDecoratorError(
      `${where}: this instance is not bound to a DistributedCache; import DistcacheModule in the app, make the ` +
        'class a singleton provider or a controller, and call the method after the app is initialised (app.init() or listen())',
    );
  }
  return r;
}

function checkArguments(name: string, region: unknown, keyOf: unknown): void {
  if (typeof region !== 'string' || region === '') {
    throw new errors.InvalidOptionError(`@${name}(region, keyOf): region must be a region id such as 'product'`);
  }
  if (typeof keyOf !== 'function') {
    throw new errors.InvalidOptionError(
      `@${name}('${region}', keyOf): keyOf must be a function of the method's arguments, such as (id) => id`,
    );
  }
}
