import type { Knex } from 'knex';
import { hostname } from 'node:os';
import cron from 'node-cron';
import { parseDuration, type Duration } from './duration.js';
import { errors } from './errors.js';
import { SERVER_IDENTITY_PATTERN, validateCluster, validateTablePrefix } from './identifiers.js';
import { defaultLogger, type Logger } from './logger.js';
import type { AnyCacheRefresher } from './refreshers/refresher.js';
import type { ColdBootReason } from './events.js';
import { ROLE_OPTIONS, type RoleOption } from './cluster/roles.js';
import { closest } from './cli/suggest.js';

/** Options of `new DistributedCache(options)`. Only `knex` is required. */
export interface DistributedCacheOptions {
  /** A Knex instance for PostgreSQL (`pg`), SQLite (`better-sqlite3`) or MySQL/MariaDB (`mysql2`). distcache never destroys it. */
  knex: Knex;
  /** Refreshers to register; more can be added with `register()` before `start()`. @default [] */
  refreshers?: AnyCacheRefresher[];
  /** This server's stable name: its cursor is stored under it. Give each process its own. @default os.hostname() */
  serverIdentity?: string;
  /**
   * Scopes everything: a server only reads its own cluster's instructions, only sees its servers,
   * and only takes part in its election. Two clusters can share one database.
   * @default 'default'
   */
  cluster?: string;
  /**
   * `'auto'` takes part in the election of the scheduling publisher through a lease in the
   * database. A fixed role overrides the election; fixed roles are what Umbraco recommends for
   * production, so that the role of each machine is decided by the operator, not by who started first.
   * @default 'auto'
   * @example role: process.env.CACHE_ROLE === 'publisher' ? 'scheduling-publisher' : 'subscriber'
   */
  role?: RoleOption;
  /**
   * How often this server writes its heartbeat (and renews the lease when it holds it).
   * @default '10s' (staleServerTimeout / 12 when only staleServerTimeout is set)
   */
  heartbeatInterval?: Duration;
  /** A server whose last heartbeat is older than this becomes inactive and stops holding pruning back. @default '2m' */
  staleServerTimeout?: Duration;
  /**
   * How long the scheduling-publisher lease lasts without renewal, by the database clock. A dead
   * publisher is replaced within leaseDuration + heartbeatInterval, which must fit in staleServerTimeout.
   * @default '30s' (staleServerTimeout / 4 when only staleServerTimeout is set)
   */
  leaseDuration?: Duration;
  /**
   * The hard cap: rows older than this are pruned even when an active server has not applied them;
   * that server then cold-boots at its next poll.
   * @default '7d' (or retention, if that is longer)
   */
  maxRetention?: Duration;
  /** Cursors and registrations of servers inactive for longer than this are deleted. @default maxRetention ('7d') */
  forgetServersAfter?: Duration;
  /** When `cache.health()` reports `healthy: false`. */
  health?: HealthThresholds;
  /** Prefix for every table. @default '' */
  tablePrefix?: string;
  /**
   * Wake up as soon as another process commits, instead of at the next poll: LISTEN/NOTIFY on
   * PostgreSQL (one listener connection per process), a watch on the WAL file on SQLite. Polling
   * stays the safety net. MySQL has no wake-up.
   *
   * PostgreSQL behind a transaction-mode pooler (PgBouncer `pool_mode = transaction`): LISTEN needs
   * a session of its own, so pass the listener's connection here, as a URL or pg connection
   * settings, straight to PostgreSQL (or a session-mode pool); queries still go through knex.
   * Without one, the listener probes at each connect and turns the wake-up off when its own NOTIFY
   * does not come back, with a warning and a line in `health().warnings`.
   * @example notify: 'postgres://app@db-primary:5432/app'
   * @default true
   */
  notify?: boolean | string | NotifyConnectionSettings;
  /**
   * PostgreSQL: run the poll as a named prepared statement, parsed and planned once per pooled
   * connection (an idle poll costs about a third as much). Behind a transaction-mode pooler
   * without prepared-statement support (PgBouncer before 1.21) turn it off; a store that meets
   * the pooler's "prepared statement does not exist" error also turns it off by itself.
   * @default true
   */
  preparedStatements?: boolean;
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
  /** Rows older than this are pruned once every active server has applied them (see `maxRetention` for the hard cap). @default '2d' */
  retention?: Duration;
  /**
   * node-cron expression for the scheduled prune, or false to never prune on a schedule. Every
   * server keeps the schedule but only the scheduling publisher (or single server) runs it.
   * @default '* * * * *' (every minute)
   */
  pruneSchedule?: string | false;
  /** Rows deleted per prune statement, so a prune never holds long locks. @default 250 */
  pruneChunkSize?: number;
  /**
   * The share of a prune's time spent deleting: after each chunk it rests in proportion to how
   * long the chunk took, so writers sharing the database keep their latency (1: no rest).
   * @default 0.1 (rest nine times as long as each chunk took: on a 2-core machine a third still
   * doubled the writers' p99 while a large backlog was deleted; see BENCHMARKS.md #6)
   */
  pruneDutyCycle?: number;
  /** Every database query is bounded by this. @default '10s' */
  queryTimeout?: Duration;
  /** Every refresher call is bounded by this. @default '30s' */
  refresherTimeout?: Duration;
  /** Retries of a failing refresher call before falling back to refreshAll(). @default 3 */
  refresherRetries?: number;
  /** First retry delay; it doubles on each retry. @default 100 */
  retryDelay?: Duration;
  /**
   * Longest wait between polls after repeated errors. Short by default so a server catches up
   * within two intervals of the database coming back; a failing poll against a down database is cheap.
   * @default 2 × syncInterval
   */
  maxErrorBackoff?: Duration;
  /** Instructions per row before a write is cut into several rows. @default 1000 */
  maxInstructionsPerRow?: number;
  /** How long `stop()` waits for a poll (and a prune) in flight. @default '10s' */
  stopTimeout?: Duration;
  /** A pino-compatible logger. @default warnings and errors to the console */
  logger?: Logger;
}

/**
 * Every option name, for refusing a misspelled one with a did-you-mean. A Record, so that an
 * option added to the interface and not here fails to compile instead of being refused at runtime.
 */
const OPTION_KEYS: Record<keyof DistributedCacheOptions, true> = {
  knex: true, refreshers: true, serverIdentity: true, cluster: true, role: true, heartbeatInterval: true,
  staleServerTimeout: true, leaseDuration: true, maxRetention: true, forgetServersAfter: true, health: true,
  tablePrefix: true, notify: true, preparedStatements: true, syncInterval: true, pageSize: true,
  maxPendingInstructions: true, startFromHead: true, onColdBoot: true, retention: true, pruneSchedule: true,
  pruneChunkSize: true, pruneDutyCycle: true, queryTimeout: true, refresherTimeout: true, refresherRetries: true,
  retryDelay: true, maxErrorBackoff: true, maxInstructionsPerRow: true, stopTimeout: true, logger: true,
};
const OPTION_NAMES = Object.freeze(Object.keys(OPTION_KEYS));
const HEALTH_KEYS: Record<keyof HealthThresholds, true> = { maxLag: true, maxPending: true, maxSyncAge: true };
const HEALTH_OPTION_NAMES = Object.freeze(Object.keys(HEALTH_KEYS));

/**
 * The longest wait a Node.js timer can do: 2^31 − 1 ms, about 24.8 days. A longer one fires
 * after 1 ms instead (with a warning), so an option a timer waits on can never be longer.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Thresholds of `cache.health()`. Crossing any of them makes `healthy` false. */
export interface HealthThresholds {
  /** The oldest instruction this server has not applied may be at most this old. @default '1m' (or 3 × syncInterval, if longer) */
  maxLag?: Duration;
  /** At most this many instructions may be waiting. @default maxPendingInstructions (1000) */
  maxPending?: number;
  /** The last successful poll may be at most this long ago. @default '1m' (or 3 × syncInterval, if longer) */
  maxSyncAge?: Duration;
}

/** The options after defaults and validation; frozen. */
export interface ResolvedOptions {
  readonly knex: Knex;
  readonly refreshers: readonly AnyCacheRefresher[];
  readonly serverIdentity: string;
  readonly cluster: string;
  readonly role: RoleOption;
  readonly heartbeatInterval: number;
  readonly staleServerTimeout: number;
  readonly leaseDuration: number;
  readonly maxRetention: number;
  readonly forgetServersAfter: number;
  readonly health: Readonly<{ maxLag: number; maxPending: number; maxSyncAge: number }>;
  readonly tablePrefix: string;
  readonly notify: boolean;
  /** The listener's own connection from the `notify` option; undefined: knex's settings. */
  readonly notifyConnection: string | Readonly<NotifyConnectionSettings> | undefined;
  readonly preparedStatements: boolean;
  readonly syncInterval: number;
  readonly pageSize: number;
  readonly maxPendingInstructions: number;
  readonly startFromHead: boolean;
  readonly onColdBoot: DistributedCacheOptions['onColdBoot'];
  readonly retention: number;
  readonly pruneSchedule: string | false;
  readonly pruneChunkSize: number;
  readonly pruneDutyCycle: number;
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
  pruneChunkSize: 250,
  pruneDutyCycle: 0.1,
  queryTimeout: 10_000,
  refresherTimeout: 30_000,
  refresherRetries: 3,
  retryDelay: 100,
  maxInstructionsPerRow: 1000,
  stopTimeout: 10_000,
  role: 'auto' as RoleOption,
  // Umbraco's value. Long enough that a GC pause, a deploy or a slow database never makes a live
  // server look dead (which would let pruning pass it and force a cold boot).
  staleServerTimeout: 120_000,
  // A twelfth of the stale timeout: a live server misses many heartbeats before it looks dead,
  // and 10 s costs each server a handful of indexed queries every 10 s.
  heartbeatInterval: 10_000,
  // Three heartbeats: the holder survives two failed renewals, and a dead holder is replaced within
  // 30 s + one heartbeat = 40 s, well inside the 2-minute stale timeout (Umbraco takes minutes).
  leaseDuration: 30_000,
  // A server lagging a week behind needs a cold boot anyway; past that, one wedged server must not
  // make the table grow without bound.
  maxRetention: 7 * 24 * 3600_000,
  // = maxRetention: after the hard cap nothing a gone server's cursor points at is left to protect.
  forgetServersAfter: 7 * 24 * 3600_000,
  health: Object.freeze({ maxLag: 60_000, maxPending: 1000, maxSyncAge: 60_000 }),
} satisfies Partial<Record<keyof ResolvedOptions, unknown>>);

function validateBoolean(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') invalid(option, `${JSON.stringify(value)} must be true or false`);
  return value;
}

function invalid(option: string, message: string): never {
  throw new errors.InvalidOptionError(`${option}: ${message}`);
}

/**
 * A duration option. `max` is MAX_TIMER_MS for every option a timer waits on (the default), and
 * larger only for the ones compared with database timestamps (retention and the like).
 */
function duration(option: string, value: Duration | undefined, fallback: number, min = 0, max = MAX_TIMER_MS): number {
  if (value === undefined) return fallback;
  const parsed = parseDuration(value);
  if (parsed === undefined) invalid(option, `${JSON.stringify(value)} is not a duration; give milliseconds or a string such as '500ms', '5s', '2d'`);
  if (parsed < min) invalid(option, `${JSON.stringify(value)} is too small; the minimum is ${min} ms`);
  if (parsed > max) {
    const why = max === MAX_TIMER_MS ? ' (2^31 − 1 ms, about 24.8 days: the longest a Node.js timer can wait)' : '';
    invalid(option, `${JSON.stringify(value)} is too large; the maximum is ${human(max)}${why}`);
  }
  return parsed;
}

/** A duration compared with database timestamps only, never waited on by a timer. */
const STORED = Number.MAX_SAFE_INTEGER;

function refuseUnknown(what: string, given: object, known: readonly string[]): void {
  for (const key of Object.keys(given)) {
    if (known.includes(key)) continue;
    const guess = closest(key, known);
    invalid(
      what ? `${what}.${key}` : key,
      `unknown option${guess ? `; did you mean '${guess}'?` : '.'} The options are: ${known.join(', ')}`,
    );
  }
}

function integer(option: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(option, `${JSON.stringify(value)} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function fraction(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1) {
    invalid(option, `${JSON.stringify(value)} must be a number above 0 and at most 1, such as 0.5`);
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
  refuseUnknown('', options, OPTION_NAMES);
  const { knex } = options;
  if (!knex || typeof knex !== 'function' || typeof (knex as Knex).transaction !== 'function') {
    invalid('knex', 'a Knex instance is required, such as knex({ client: "pg", connection: process.env.DATABASE_URL })');
  }
  if (options.refreshers !== undefined && !Array.isArray(options.refreshers)) invalid('refreshers', 'must be an array of refreshers');
  const tablePrefix = validateTablePrefix(options.tablePrefix ?? DEFAULTS.tablePrefix);
  const pruneSchedule = options.pruneSchedule ?? DEFAULTS.pruneSchedule;
  if (pruneSchedule !== false && (typeof pruneSchedule !== 'string' || !cron.validate(pruneSchedule))) {
    invalid('pruneSchedule', `${JSON.stringify(pruneSchedule)} is not a valid node-cron expression; for every minute use '* * * * *', or false to disable`);
  }
  if (options.onColdBoot !== undefined && typeof options.onColdBoot !== 'function') invalid('onColdBoot', 'must be a function');
  const logger = options.logger ?? defaultLogger;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[level] !== 'function') invalid('logger', `must have a ${level}() method (a pino logger works)`);
  }
  const syncInterval = duration('syncInterval', options.syncInterval, DEFAULTS.syncInterval, 10);
  const retention = duration('retention', options.retention, DEFAULTS.retention, 1000, STORED);
  const maxPendingInstructions = integer('maxPendingInstructions', options.maxPendingInstructions, DEFAULTS.maxPendingInstructions, 1);
  return Object.freeze({
    knex,
    refreshers: Object.freeze([...(options.refreshers ?? [])]),
    serverIdentity: validateIdentity('serverIdentity', options.serverIdentity ?? defaultIdentity(), SERVER_IDENTITY_PATTERN, 'web-1'),
    cluster: validateCluster(options.cluster ?? DEFAULTS.cluster),
    ...clusterTiming(options, retention),
    health: healthThresholds(options.health, syncInterval, maxPendingInstructions),
    tablePrefix,
    ...notifyOption(options.notify),
    preparedStatements: options.preparedStatements === undefined ? true : validateBoolean('preparedStatements', options.preparedStatements),
    syncInterval,
    pageSize: integer('pageSize', options.pageSize, DEFAULTS.pageSize, 1, 100_000),
    maxPendingInstructions,
    startFromHead: Boolean(options.startFromHead ?? DEFAULTS.startFromHead),
    onColdBoot: options.onColdBoot,
    retention,
    pruneSchedule,
    pruneChunkSize: integer('pruneChunkSize', options.pruneChunkSize, DEFAULTS.pruneChunkSize, 1, 100_000),
    pruneDutyCycle: fraction('pruneDutyCycle', options.pruneDutyCycle, DEFAULTS.pruneDutyCycle),
    queryTimeout: duration('queryTimeout', options.queryTimeout, DEFAULTS.queryTimeout, 100),
    refresherTimeout: duration('refresherTimeout', options.refresherTimeout, DEFAULTS.refresherTimeout, 1),
    refresherRetries: integer('refresherRetries', options.refresherRetries, DEFAULTS.refresherRetries, 0, 100),
    retryDelay: retryDelay(options),
    maxErrorBackoff: duration('maxErrorBackoff', options.maxErrorBackoff, 2 * syncInterval, 10),
    maxInstructionsPerRow: integer('maxInstructionsPerRow', options.maxInstructionsPerRow, DEFAULTS.maxInstructionsPerRow, 1, 100_000),
    stopTimeout: duration('stopTimeout', options.stopTimeout, DEFAULTS.stopTimeout),
    logger,
  });
}

/**
 * pg connection settings for the listener (host, port, user, password, database, ssl, ...), as
 * knex's `connection` takes them for the pg client.
 */
export interface NotifyConnectionSettings {
  host?: string;
  port?: number;
  user?: string;
  password?: string | (() => string | Promise<string>);
  database?: string;
  connectionString?: string;
  ssl?: unknown;
  [setting: string]: unknown;
}

function notifyOption(value: DistributedCacheOptions['notify']): Pick<ResolvedOptions, 'notify' | 'notifyConnection'> {
  if (value === undefined || typeof value === 'boolean') return { notify: value ?? true, notifyConnection: undefined };
  if (typeof value === 'string') {
    if (!/^postgres(ql)?:\/\//.test(value)) {
      invalid('notify', "a connection URL must start with postgres:// (for example 'postgres://app@db-primary:5432/app')");
    }
    return { notify: true, notifyConnection: value };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    invalid('notify', "must be true, false, a postgres:// URL or pg connection settings such as { host: 'db-primary', port: 5432 }");
  }
  return { notify: true, notifyConnection: Object.freeze({ ...value }) };
}

/** The first retry delay; it doubles on each retry, so the last one must fit in a timer too. */
function retryDelay(options: DistributedCacheOptions): number {
  const delay = duration('retryDelay', options.retryDelay, DEFAULTS.retryDelay);
  const retries = integer('refresherRetries', options.refresherRetries, DEFAULTS.refresherRetries, 0, 100);
  if (retries > 0 && delay * 2 ** (retries - 1) > MAX_TIMER_MS) {
    invalid('retryDelay', `${human(delay)} doubled for each of ${retries} refresherRetries waits ${human(delay * 2 ** (retries - 1))} before the last retry, longer than a timer can wait (about 24.8 days); lower retryDelay or refresherRetries`);
  }
  return delay;
}

/** A duration as the user would write it: '2m', not 120000. */
function human(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * Role and timing of the cluster. Unset timings follow staleServerTimeout, so setting only that
 * one (say '30s' in a test) gives a consistent set. The two checks are what the guarantees rest on.
 */
function clusterTiming(options: DistributedCacheOptions, retention: number) {
  const role = options.role ?? DEFAULTS.role;
  if (!ROLE_OPTIONS.includes(role)) {
    invalid('role', `${JSON.stringify(role)} is not a role; use 'auto' (elected), 'single', 'scheduling-publisher' or 'subscriber'`);
  }
  const staleSet = options.staleServerTimeout !== undefined;
  const heartbeatSet = options.heartbeatInterval !== undefined;
  const leaseSet = options.leaseDuration !== undefined;
  // At most a day: a heartbeat that rare means nothing.
  const heartbeatGiven = heartbeatSet ? duration('heartbeatInterval', options.heartbeatInterval, 0, 10, 86_400_000) : undefined;
  // Whichever of the two is set gives the other: twelve heartbeats to a stale timeout, so setting
  // only heartbeatInterval (say '5m') gives a consistent set instead of failing on a derived value.
  const staleServerTimeout = duration('staleServerTimeout', options.staleServerTimeout, Math.max(DEFAULTS.staleServerTimeout, 12 * (heartbeatGiven ?? 0)), 50, STORED);
  const heartbeatDefault = Math.min(staleSet ? Math.round(staleServerTimeout / 12) : DEFAULTS.heartbeatInterval, 86_400_000);
  const heartbeatInterval = heartbeatGiven ?? heartbeatDefault;
  // At least three heartbeats, and short enough that a dead holder is replaced within the stale timeout.
  const leaseWanted = Math.max(staleSet ? Math.round(staleServerTimeout / 4) : DEFAULTS.leaseDuration, 3 * heartbeatInterval);
  const leaseDefault = Math.min(leaseWanted, staleServerTimeout - heartbeatInterval);
  if (!leaseSet && leaseDefault < 2 * heartbeatInterval) {
    // Both set, too close together for any lease: name what the user wrote, not the derived lease.
    invalid(
      'heartbeatInterval',
      `${human(heartbeatInterval)} is too long for staleServerTimeout (${human(staleServerTimeout)}): staleServerTimeout must be at least three heartbeats (${human(3 * heartbeatInterval)}), so the publisher lease can outlast a late renewal and still be replaced before the server looks dead; lower heartbeatInterval or raise staleServerTimeout`,
    );
  }
  const leaseDuration = duration('leaseDuration', options.leaseDuration, leaseDefault, 20, STORED);
  if (leaseDuration < 2 * heartbeatInterval) {
    invalid('leaseDuration', `${human(leaseDuration)} must be at least twice heartbeatInterval (${human(heartbeatInterval)}), so one late renewal does not lose the lease; raise leaseDuration or lower heartbeatInterval`);
  }
  if (leaseDuration + heartbeatInterval > staleServerTimeout) {
    invalid(
      'staleServerTimeout',
      `${human(staleServerTimeout)} is shorter than leaseDuration + heartbeatInterval (${human(leaseDuration)} + ${human(heartbeatInterval)}), the longest a dead publisher can go unreplaced; raise staleServerTimeout or lower leaseDuration`,
    );
  }
  const maxRetention = duration('maxRetention', options.maxRetention, Math.max(DEFAULTS.maxRetention, retention), 1000, STORED);
  if (maxRetention < retention) invalid('maxRetention', `${human(maxRetention)} is shorter than retention (${human(retention)}); the hard cap must be at least the retention`);
  const forgetServersAfter = duration('forgetServersAfter', options.forgetServersAfter, Math.max(maxRetention, staleServerTimeout), 50, STORED);
  if (forgetServersAfter < staleServerTimeout) {
    invalid('forgetServersAfter', `${human(forgetServersAfter)} is shorter than staleServerTimeout (${human(staleServerTimeout)}); only a server that is already inactive can be forgotten`);
  }
  return { role, heartbeatInterval, staleServerTimeout, leaseDuration, maxRetention, forgetServersAfter };
}

function healthThresholds(health: HealthThresholds | undefined, syncInterval: number, maxPendingInstructions: number) {
  if (health !== undefined && (health === null || typeof health !== 'object')) invalid('health', 'pass an object such as { maxLag: \'1m\', maxPending: 1000, maxSyncAge: \'1m\' }');
  if (health) refuseUnknown('health', health, HEALTH_OPTION_NAMES);
  // A slow poll interval must not look unhealthy by default.
  const floor = 3 * syncInterval;
  return Object.freeze({
    maxLag: duration('health.maxLag', health?.maxLag, Math.max(DEFAULTS.health.maxLag, floor), 0, STORED),
    maxPending: integer('health.maxPending', health?.maxPending, maxPendingInstructions, 0),
    maxSyncAge: duration('health.maxSyncAge', health?.maxSyncAge, Math.max(DEFAULTS.health.maxSyncAge, floor), 1, STORED),
  });
}

/** Host names can hold characters our pattern refuses; keep the safe part. */
function defaultIdentity(): string {
  const safe = hostname().replace(/[^A-Za-z0-9._:@/-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return (safe || 'server').slice(0, 128);
}
