import type { Knex } from 'knex';
import { hostname } from 'node:os';
import cron from 'node-cron';
import { parseDuration, type Duration } from './duration.js';
import { errors } from './errors.js';
import { CLUSTER_PATTERN, SERVER_IDENTITY_PATTERN, isValidTablePrefix } from './identifiers.js';
import { defaultLogger, type Logger } from './logger.js';
import type { AnyCacheRefresher } from './refreshers/refresher.js';
import type { ColdBootReason } from './events.js';

/** Options of `new DistributedCache(options)`. Only `knex` is required. */
export interface DistributedCacheOptions {
  /** A Knex instance for PostgreSQL (`pg`), SQLite (`better-sqlite3`) or MySQL/MariaDB (`mysql2`). distcache never destroys it. */
  knex: Knex;
  /** Refreshers to register; more can be added with `register()` before `start()`. @default [] */
  refreshers?: AnyCacheRefresher[];
  /** This server's stable name: its cursor is stored under it. Give each process its own. @default os.hostname() */
  serverIdentity?: string;
  /** Servers only see instructions of their own cluster. @default 'default' */
  cluster?: string;
  /** Prefix for every table. @default '' */
  tablePrefix?: string;
  /** How often to poll the log. @default 1000 (1 s) */
  syncInterval?: Duration;
  /** Rows read per query while catching up; bounds memory. @default 100 */
  pageSize?: number;
  /** More pending instructions than this (summed instruction_count) makes a cold boot. @default 1000 */
  maxPendingInstructions?: number;
  /** With no stored cursor, start at the head without a cold boot (for caches that start empty). @default false */
  startFromHead?: boolean;
  /** Replaces "call refreshAll() on every refresher" during a cold boot. */
  onColdBoot?: (context: { reason: ColdBootReason }) => void | Promise<void>;
  /** Rows older than this are pruned. @default '2d' */
  retention?: Duration;
  /** node-cron expression for the scheduled prune, or false to never prune on a schedule. @default '* * * * *' (every minute) */
  pruneSchedule?: string | false;
  /** Rows deleted per prune statement, so a prune never holds long locks. @default 1000 */
  pruneChunkSize?: number;
  /** Every database query is bounded by this. @default '10s' */
  queryTimeout?: Duration;
  /** Every refresher call is bounded by this. @default '30s' */
  refresherTimeout?: Duration;
  /** Retries of a failing refresher call before falling back to refreshAll(). @default 3 */
  refresherRetries?: number;
  /** First retry delay; it doubles on each retry. @default 100 */
  retryDelay?: Duration;
  /** Longest wait between polls after repeated errors. @default '30s' */
  maxErrorBackoff?: Duration;
  /** Instructions per row before a write is cut into several rows. @default 1000 */
  maxInstructionsPerRow?: number;
  /** How long `stop()` waits for a poll in flight. @default '10s' */
  stopTimeout?: Duration;
  /** A pino-compatible logger. @default warnings and errors to the console */
  logger?: Logger;
}

/** The options after defaults and validation; frozen. */
export interface ResolvedOptions {
  readonly knex: Knex;
  readonly refreshers: readonly AnyCacheRefresher[];
  readonly serverIdentity: string;
  readonly cluster: string;
  readonly tablePrefix: string;
  readonly syncInterval: number;
  readonly pageSize: number;
  readonly maxPendingInstructions: number;
  readonly startFromHead: boolean;
  readonly onColdBoot: DistributedCacheOptions['onColdBoot'];
  readonly retention: number;
  readonly pruneSchedule: string | false;
  readonly pruneChunkSize: number;
  readonly queryTimeout: number;
  readonly refresherTimeout: number;
  readonly refresherRetries: number;
  readonly retryDelay: number;
  readonly maxErrorBackoff: number;
  readonly maxInstructionsPerRow: number;
  readonly stopTimeout: number;
  readonly logger: Logger;
}

export const DEFAULTS = Object.freeze({
  cluster: 'default',
  tablePrefix: '',
  // An indexed poll costs well under a millisecond, so 50 servers polling every second add
  // 50 cheap queries/s, while a change reaches every server within a second (Umbraco waits 5 s).
  syncInterval: 1000,
  pageSize: 100,
  maxPendingInstructions: 1000,
  startFromHead: false,
  retention: 2 * 24 * 3600_000,
  pruneSchedule: '* * * * *',
  pruneChunkSize: 1000,
  queryTimeout: 10_000,
  refresherTimeout: 30_000,
  refresherRetries: 3,
  retryDelay: 100,
  maxErrorBackoff: 30_000,
  maxInstructionsPerRow: 1000,
  stopTimeout: 10_000,
} satisfies Partial<Record<keyof ResolvedOptions, unknown>>);

function invalid(option: string, message: string): never {
  throw new errors.InvalidOptionError(`${option}: ${message}`);
}

function duration(option: string, value: Duration | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const parsed = parseDuration(value);
  if (parsed === undefined) invalid(option, `${JSON.stringify(value)} is not a duration; give milliseconds or a string such as '500ms', '5s', '2d'`);
  if (parsed < min) invalid(option, `${JSON.stringify(value)} is too small; the minimum is ${min} ms`);
  return parsed;
}

function integer(option: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(option, `${JSON.stringify(value)} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

export function validateIdentity(option: string, value: unknown, pattern: RegExp, example: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    invalid(option, `${JSON.stringify(value)} is not valid; use letters, digits and . _ - (no spaces, quotes or semicolons), such as '${example}'`);
  }
  return value;
}

/** Applies defaults, validates every option with a message that says what to fix, and freezes the result. */
export function resolveOptions(options: DistributedCacheOptions): ResolvedOptions {
  if (!options || typeof options !== 'object') invalid('options', 'pass an object such as { knex }');
  const { knex } = options;
  if (!knex || typeof knex !== 'function' || typeof (knex as Knex).transaction !== 'function') {
    invalid('knex', 'a Knex instance is required, such as knex({ client: "pg", connection: process.env.DATABASE_URL })');
  }
  if (options.refreshers !== undefined && !Array.isArray(options.refreshers)) invalid('refreshers', 'must be an array of refreshers');
  const tablePrefix = options.tablePrefix ?? DEFAULTS.tablePrefix;
  if (typeof tablePrefix !== 'string' || !isValidTablePrefix(tablePrefix)) {
    invalid('tablePrefix', `${JSON.stringify(tablePrefix)} is not valid; use lower-case letters, digits and underscores, starting with a letter, at most 32 characters (for example 'cache_')`);
  }
  const pruneSchedule = options.pruneSchedule ?? DEFAULTS.pruneSchedule;
  if (pruneSchedule !== false && (typeof pruneSchedule !== 'string' || !cron.validate(pruneSchedule))) {
    invalid('pruneSchedule', `${JSON.stringify(pruneSchedule)} is not a valid node-cron expression; for every minute use '* * * * *', or false to disable`);
  }
  if (options.onColdBoot !== undefined && typeof options.onColdBoot !== 'function') invalid('onColdBoot', 'must be a function');
  const logger = options.logger ?? defaultLogger;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[level] !== 'function') invalid('logger', `must have a ${level}() method (a pino logger works)`);
  }
  return Object.freeze({
    knex,
    refreshers: Object.freeze([...(options.refreshers ?? [])]),
    serverIdentity: validateIdentity('serverIdentity', options.serverIdentity ?? defaultIdentity(), SERVER_IDENTITY_PATTERN, 'web-1'),
    cluster: validateIdentity('cluster', options.cluster ?? DEFAULTS.cluster, CLUSTER_PATTERN, 'production'),
    tablePrefix,
    syncInterval: duration('syncInterval', options.syncInterval, DEFAULTS.syncInterval, 10),
    pageSize: integer('pageSize', options.pageSize, DEFAULTS.pageSize, 1, 100_000),
    maxPendingInstructions: integer('maxPendingInstructions', options.maxPendingInstructions, DEFAULTS.maxPendingInstructions, 1),
    startFromHead: Boolean(options.startFromHead ?? DEFAULTS.startFromHead),
    onColdBoot: options.onColdBoot,
    retention: duration('retention', options.retention, DEFAULTS.retention, 1000),
    pruneSchedule,
    pruneChunkSize: integer('pruneChunkSize', options.pruneChunkSize, DEFAULTS.pruneChunkSize, 1, 100_000),
    queryTimeout: duration('queryTimeout', options.queryTimeout, DEFAULTS.queryTimeout, 100),
    refresherTimeout: duration('refresherTimeout', options.refresherTimeout, DEFAULTS.refresherTimeout, 1),
    refresherRetries: integer('refresherRetries', options.refresherRetries, DEFAULTS.refresherRetries, 0, 100),
    retryDelay: duration('retryDelay', options.retryDelay, DEFAULTS.retryDelay),
    maxErrorBackoff: duration('maxErrorBackoff', options.maxErrorBackoff, DEFAULTS.maxErrorBackoff, 10),
    maxInstructionsPerRow: integer('maxInstructionsPerRow', options.maxInstructionsPerRow, DEFAULTS.maxInstructionsPerRow, 1, 100_000),
    stopTimeout: duration('stopTimeout', options.stopTimeout, DEFAULTS.stopTimeout),
    logger,
  });
}

/** Host names can hold characters our pattern refuses; keep the safe part. */
function defaultIdentity(): string {
  const safe = hostname().replace(/[^A-Za-z0-9._:@\/-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return (safe || 'server').slice(0, 128);
}
