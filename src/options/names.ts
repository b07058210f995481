import type { DistributedCacheOptions, HealthThresholds } from '../options.js';

/**
 * Every option name, for refusing a misspelled one with a did-you-mean. A Record, so that an
 * option added to the interface and not here fails to compile instead of being refused at runtime.
 */
const OPTION_KEYS: Record<keyof DistributedCacheOptions, true> = {
  knex: true,
  connection: true,
  refreshers: true,
  serverIdentity: true,
  cluster: true,
  role: true,
  heartbeatInterval: true,
  staleServerTimeout: true,
  leaseDuration: true,
  maxRetention: true,
  forgetServersAfter: true,
  health: true,
  tablePrefix: true,
  notify: true,
  preparedStatements: true,
  syncInterval: true,
  pageSize: true,
  maxPendingInstructions: true,
  startFromHead: true,
  onColdBoot: true,
  retention: true,
  pruneSchedule: true,
  pruneChunkSize: true,
  pruneDutyCycle: true,
  queryTimeout: true,
  refresherTimeout: true,
  refresherRetries: true,
  retryDelay: true,
  maxErrorBackoff: true,
  maxInstructionsPerRow: true,
  maxRowBytes: true,
  maxPageBytes: true,
  wakeThrottle: true,
  stopTimeout: true,
  logger: true,
  replicas: true,
  maxReplicaLag: true,
};
export const OPTION_NAMES = Object.freeze(Object.keys(OPTION_KEYS));
const HEALTH_KEYS: Record<keyof HealthThresholds, true> = { maxLag: true, maxPending: true, maxSyncAge: true };
export const HEALTH_OPTION_NAMES = Object.freeze(Object.keys(HEALTH_KEYS));
