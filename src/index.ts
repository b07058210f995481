export { DistributedCache, type WriteOptions, type SyncWriteOptions, type WaitForOptions, type CacheRequest } from './cache.js';
export { migrate, migrationConfig, type MigrateOptions, type MigrateResult } from './migrations/migrate.js';
export { DistcacheMigrationSource } from './migrations/source.js';
export { DEFAULTS, type DistributedCacheOptions, type ResolvedOptions, type HealthThresholds } from './options.js';
export { resolveOptions } from './options/resolve.js';
export type { ServerRole, RoleOption } from './cluster/roles.js';
export type { ServerInfo } from './cluster/server-info.js';
export type { HealthReport, LastError, ErrorSource } from './cluster/health.js';
export { errors, DistcacheError, isDistcacheError, type ErrorCode } from './errors.js';
export type { DistcacheEvents, EventName, ColdBootReason, SyncResultEvent, WaitOutcome } from './events.js';
export type { CacheRefresher, AnyCacheRefresher } from './refreshers/refresher.js';
export type { CacheId, JsonValue, Instruction, InstructionKind } from './instructions/types.js';
export { encodeInstructions, decodeInstructions, FORMAT_VERSION } from './instructions/codec.js';
export type { SyncResult } from './sync/poller.js';
export type { PruneResult } from './cluster/pruner.js';
export type { Logger } from './logger.js';
export type { Duration } from './duration.js';
export { tableNames, type TableNames } from './store/tables.js';
export type { InstructionStore, StoredInstructionRow, StoredFailure, FailureAction, CursorState, LogSummary } from './store/store.js';
export { knexConfigFromUrl, sqliteConfig, maskUrl } from './connection.js';
// The operator API (Admin) is its own entry point, distcache/admin (src/admin/index.ts).
export { InstrumentationHooks, type Instrumentation, type WriteInfo, type RefresherCallInfo } from './instrumentation.js';
export { Region, type RegionWriteOptions } from './regions/region.js';
export { RequestCachedRegion } from './regions/request-cached-region.js';
export {
  REGION_DEFAULTS,
  type RegionOptions,
  type RegionLoader,
  type RegionBulkLoader,
  type RegionClock,
  type LoadContext,
  type LoadOptions,
} from './regions/options.js';
export type { RegionKey } from './regions/keys.js';
export type { RegionStats } from './regions/stats.js';
export type { Executor, SyncExecutor, ExecutorRow, ExecutorDialect } from './store/executor.js';
