import { Inject } from '@nestjs/common';

/** The injection token of the module's resolved options (DistcacheModuleOptions). */
export const DISTCACHE_MODULE_OPTIONS = Symbol('distcache:nestjs:options');

/** The injection token of a region: `@Inject(regionToken('product'))`, or `@InjectRegion('product')`. */
export function regionToken(id: string): string {
  return `distcache:region:${id}`;
}

/**
 * Injects the region with this id, declared in `DistcacheModule.forRoot({ regions })`.
 *
 * @example
 * import { Injectable } from '@nestjs/common';
 * import type { Region } from 'distcache';
 * import { InjectRegion } from 'distcache/nestjs';
 *
 *  @Injectable()
 * class ProductService {
 *   constructor(@InjectRegion('product') private readonly products: Region<Product>) {}
 * }
 */
export function InjectRegion(id: string): PropertyDecorator & ParameterDecorator {
  return Inject(regionToken(id));
}
