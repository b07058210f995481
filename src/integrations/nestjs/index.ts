export { DistcacheModule, type DistcacheModuleOptions, type DistcacheModuleAsyncOptions } from './module.js';
export { Cacheable, CacheEvict } from './decorators.js';
export { InjectRegion, regionToken, DISTCACHE_MODULE_OPTIONS } from './tokens.js';
