import {
  Module,
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common';
import { DiscoveryModule, DiscoveryService } from '@nestjs/core';
import { DistributedCache } from '../../cache.js';
import { errors } from '../../errors.js';
import type { RegionOptions } from '../../regions/options.js';
import { DistcacheLifecycle } from './lifecycle.js';
import { DISTCACHE_MODULE_OPTIONS, regionToken } from './tokens.js';

/** The options of `new DistributedCache(options)` (integrations see the cache, not the options layer). */
type DistributedCacheOptions = ConstructorParameters<typeof DistributedCache>[0];

/** Options of `DistcacheModule.forRoot()`, or what `forRootAsync()`'s factory returns. */
export interface DistcacheModuleOptions {
  /**
   * The options of the DistributedCache the module makes. With `connection`, distcache owns the
   * pool and stop() closes it; with `knex`, close your knex after the app has closed.
   */
  cache: DistributedCacheOptions;
  /**
   * Regions to create, by id, before the cache starts; each is injectable with
   * `@InjectRegion(id)`. A region only `@Cacheable`/`@CacheEvict` name needs no entry: it is
   * created with default options (no ttl: invalidations keep it right).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  regions?: Record<string, RegionOptions<any>>;
}

export interface DistcacheModuleAsyncOptions {
  imports?: ModuleMetadata['imports'];
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  useFactory: (...args: never[]) => DistcacheModuleOptions | Promise<DistcacheModuleOptions>;
  /** The ids of the regions to provide for `@InjectRegion`; their options come from the factory's `regions`. */
  regions?: string[];
  /** Provide the cache and its regions to every module. @default false */
  isGlobal?: boolean;
}

/**
 * Provides a DistributedCache, and its regions, to Nest's dependency injection; starts the cache
 * on `onModuleInit` and stops it on `onApplicationShutdown` (`app.close()`, or SIGTERM with
 * `app.enableShutdownHooks()`). Run `migrate()` before the app starts (a deploy step, or in
 * `forRootAsync`'s factory). One DistcacheModule per application.
 *
 * @example
 * import { Module } from '@nestjs/common';
 * import { DistcacheModule } from 'distcache/nestjs';
 *
 *  @Module({
 *   imports: [DistcacheModule.forRoot({ cache: { connection: process.env.DATABASE_URL }, regions: { product: { ttl: '10m' } } })],
 * })
 * class AppModule {}
 */
export class DistcacheModule {
  static forRoot(options: DistcacheModuleOptions & { isGlobal?: boolean }): DynamicModule {
    check(options);
    const regionIds = Object.keys(options.regions ?? {});
    return dynamicModule([{ provide: DISTCACHE_MODULE_OPTIONS, useValue: options }], regionIds, [], options.isGlobal ?? false);
  }

  static forRootAsync(options: DistcacheModuleAsyncOptions): DynamicModule {
    if (typeof options?.useFactory !== 'function') {
      throw new errors.InvalidOptionError('DistcacheModule.forRootAsync: useFactory must be a function returning { cache, regions? }');
    }
    const factory = async (...args: never[]) => check(await options.useFactory(...args));
    const provider: Provider = { provide: DISTCACHE_MODULE_OPTIONS, useFactory: factory, inject: options.inject ?? [] };
    return dynamicModule([provider], options.regions ?? [], options.imports ?? [], options.isGlobal ?? false);
  }
}
Module({})(DistcacheModule);

function dynamicModule(
  optionsProvider: Provider[],
  regionIds: string[],
  imports: NonNullable<ModuleMetadata['imports']>,
  global: boolean,
): DynamicModule {
  const regionProviders: Provider[] = regionIds.map((id) => ({
    provide: regionToken(id),
    useFactory: (cache: DistributedCache, o: DistcacheModuleOptions) => cache.region(id, o.regions?.[id] ?? {}),
    inject: [DistributedCache, DISTCACHE_MODULE_OPTIONS],
  }));
  return {
    module: DistcacheModule,
    global,
    imports: [DiscoveryModule, ...imports],
    providers: [
      ...optionsProvider,
      {
        provide: DistributedCache,
        useFactory: (o: DistcacheModuleOptions) => new DistributedCache(o.cache),
        inject: [DISTCACHE_MODULE_OPTIONS],
      },
      ...regionProviders,
      // Injects every region provider, so they are all made (and their regions created) before its onModuleInit starts the cache.
      {
        provide: DistcacheLifecycle,
        useFactory: (cache: DistributedCache, discovery: DiscoveryService) => new DistcacheLifecycle(cache, discovery),
        inject: [DistributedCache, DiscoveryService, ...regionIds.map(regionToken)],
      },
    ],
    exports: [DistributedCache, ...regionIds.map(regionToken)],
  };
}

function check(options: DistcacheModuleOptions): DistcacheModuleOptions {
  if (typeof options !== 'object' || options === null || typeof options.cache !== 'object' || options.cache === null) {
    throw new errors.InvalidOptionError(
      'DistcacheModule: give { cache: DistributedCacheOptions, regions? }, such as { cache: { connection } }',
    );
  }
  if (options.regions !== undefined && (typeof options.regions !== 'object' || options.regions === null)) {
    throw new errors.InvalidOptionError(
      "DistcacheModule regions: give an object of region options by id, such as { product: { ttl: '10m' } }",
    );
  }
  return options;
}
