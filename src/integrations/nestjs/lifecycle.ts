import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { DiscoveryService } from '@nestjs/core';
import type { DistributedCache } from '../../cache.js';
import { errors } from '../../errors.js';
import type { Region } from '../../regions/region.js';
import { bindInstance, regionsNamedBy, unbindInstance } from './decorators.js';

/**
 * Runs the cache on Nest's lifecycle. At `onModuleInit` (after every provider and controller was
 * made, and so after every `cache.region()` in a constructor) it binds each instance whose
 * methods carry `@Cacheable`/`@CacheEvict` to the regions they name, creating the regions no one
 * declared, then starts the cache. At `onApplicationShutdown`, which Nest runs for the importing
 * modules first (so their hooks may still use the cache), it unbinds them and stops the cache
 * (which closes its pool when it was given `connection`).
 */
export class DistcacheLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly bound: object[] = [];

  constructor(
    private readonly cache: DistributedCache,
    private readonly discovery: DiscoveryService,
  ) {}

  async onModuleInit(): Promise<void> {
    const regions = new Map<string, Region<unknown>>();
    const regionOf = (id: string) => {
      let r = regions.get(id);
      if (!r) regions.set(id, (r = this.cache.getRegion<unknown>(id) ?? this.cache.region<unknown>(id)));
      return r;
    };
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const instance = wrapper.instance as unknown;
      const prototype = (wrapper.metatype as { prototype?: object } | null | undefined)?.prototype;
      const named = prototype ? regionsNamedBy(prototype) : new Set<string>();
      if (named.size === 0) continue;
      if (!wrapper.isDependencyTreeStatic() || typeof instance !== 'object' || instance === null) {
        throw new errors.InvalidOptionError(
          `${wrapper.name}: @Cacheable/@CacheEvict need a singleton (the default scope); this provider is request-scoped or transient`,
        );
      }
      bindInstance(instance, new Map([...named].map((id) => [id, regionOf(id)])));
      this.bound.push(instance);
    }
    await this.cache.start();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const instance of this.bound.splice(0)) unbindInstance(instance);
    await this.cache.stop();
  }
}
