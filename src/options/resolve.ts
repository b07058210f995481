import knexFactory, { type Knex } from 'knex';
import { knexConfigFromUrl } from '../connection.js';
import { hostname } from 'node:os';
import cron from 'node-cron';
import { SERVER_IDENTITY_PATTERN, validateCluster, validateTablePrefix } from '../identifiers.js';
import { defaultLogger } from '../logger.js';
import {
  DEFAULTS,
  MAX_ROW_BYTES,
  REPLICA_DEFAULTS,
  type DistributedCacheOptions,
  type HealthThresholds,
  type ResolvedOptions,
} from '../options.js';
import { duration, fraction, human, integer, invalid, MAX_TIMER_MS, STORED, validateBoolean, validateIdentity } from './checks.js';
import { clusterTiming } from './cluster-timing.js';
import { refuseUnknown } from './unknown-keys.js';
import { HEALTH_OPTION_NAMES, OPTION_NAMES } from './names.js';

/** Applies defaults, validates every option with a message that says what to fix, and freezes the result. */
export function resolveOptions(options: DistributedCacheOptions): ResolvedOptions {
  if (!options || typeof options !== 'object') invalid('options', 'pass an object such as { knex }');
  refuseUnknown('', options, OPTION_NAMES);
  const { knex, ownsKnex } = knexOption(options);
  if (options.refreshers !== undefined && !Array.isArray(options.refreshers)) invalid('refreshers', 'must be an array of refreshers');
  const tablePrefix = validateTablePrefix(options.tablePrefix ?? DEFAULTS.tablePrefix);
  const pruneSchedule = options.pruneSchedule ?? DEFAULTS.pruneSchedule;
  if (pruneSchedule !== false && (typeof pruneSchedule !== 'string' || !cron.validate(pruneSchedule))) {
    invalid(
      'pruneSchedule',
      `${JSON.stringify(pruneSchedule)} is not a valid node-cron expression; for every minute use '* * * * *', or false to disable`,
    );
  }
  if (options.onColdBoot !== undefined && typeof options.onColdBoot !== 'function') invalid('onColdBoot', 'must be a function');
  const logger = options.logger ?? defaultLogger;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[level] !== 'function') invalid('logger', `must have a ${level}() method (a pino logger works)`);
  }
  const replicas = replicaOption(options.replicas);
  const syncInterval = duration(
    'syncInterval',
    options.syncInterval,
    replicas.length > 0 ? REPLICA_DEFAULTS.syncInterval : DEFAULTS.syncInterval,
    10,
  );
  const retention = duration('retention', options.retention, DEFAULTS.retention, 1000, STORED);
  const maxPendingInstructions = integer('maxPendingInstructions', options.maxPendingInstructions, DEFAULTS.maxPendingInstructions, 1);
  return Object.freeze({
    knex,
    ownsKnex,
    replicas,
    maxReplicaLag: duration('maxReplicaLag', options.maxReplicaLag, Math.max(DEFAULTS.maxReplicaLag, 3 * syncInterval), 10, STORED),
    refreshers: Object.freeze([...(options.refreshers ?? [])]),
    serverIdentity: validateIdentity('serverIdentity', options.serverIdentity ?? defaultIdentity(), SERVER_IDENTITY_PATTERN, 'web-1'),
    cluster: validateCluster(options.cluster ?? DEFAULTS.cluster),
    ...clusterTiming(options, retention),
    health: healthThresholds(options.health, syncInterval, maxPendingInstructions),
    tablePrefix,
    ...notifyOption(options.notify ?? (replicas.length === 0 ? undefined : REPLICA_DEFAULTS.notify)),
    preparedStatements:
      options.preparedStatements === undefined
        ? DEFAULTS.preparedStatements
        : validateBoolean('preparedStatements', options.preparedStatements),
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
    maxRowBytes: integer('maxRowBytes', options.maxRowBytes, DEFAULTS.maxRowBytes, 1024, MAX_ROW_BYTES),
    maxPageBytes: integer('maxPageBytes', options.maxPageBytes, DEFAULTS.maxPageBytes, 1024),
    wakeThrottle: duration('wakeThrottle', options.wakeThrottle, DEFAULTS.wakeThrottle, 0, 60_000),
    stopTimeout: duration('stopTimeout', options.stopTimeout, DEFAULTS.stopTimeout),
    logger,
  });
}

/** `knex`, or a small pool of our own from `connection`; exactly one of the two. */
function knexOption(options: DistributedCacheOptions): { knex: Knex; ownsKnex: boolean } {
  const { knex, connection } = options;
  if (knex !== undefined && connection !== undefined) invalid('connection', 'pass either knex or connection, not both');
  if (connection !== undefined) {
    if (typeof connection !== 'string' || connection === '') {
      invalid('connection', "must be a connection string such as 'postgres://app@db:5432/app' or 'sqlite://./app.sqlite'");
    }
    const config = knexConfigFromUrl(connection);
    // Small: distcache's own work is a poll, a heartbeat and the writes it is given.
    return { knex: knexFactory({ ...config, pool: { ...config.pool, min: 0, max: 4 } }), ownsKnex: true };
  }
  if (!knex || typeof knex !== 'function' || typeof (knex as Knex).transaction !== 'function') {
    invalid(
      'knex',
      'a Knex instance is required, such as knex({ client: "pg", connection: process.env.DATABASE_URL }); ' +
        'or pass connection: process.env.DATABASE_URL and distcache builds its own',
    );
  }
  return { knex, ownsKnex: false };
}

function notifyOption(value: DistributedCacheOptions['notify']): Pick<ResolvedOptions, 'notify' | 'notifyConnection' | 'notifyRelay'> {
  if (value === undefined || typeof value === 'boolean')
    return { notify: value ?? DEFAULTS.notify, notifyConnection: undefined, notifyRelay: false };
  if (value === 'relay') return { notify: true, notifyConnection: undefined, notifyRelay: true };
  if (typeof value === 'string') {
    if (!/^postgres(ql)?:\/\//.test(value)) {
      invalid(
        'notify',
        "a connection URL must start with postgres:// (for example 'postgres://app@db-primary:5432/app'), or 'relay' in a cluster worker",
      );
    }
    return { notify: true, notifyConnection: value, notifyRelay: false };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    invalid(
      'notify',
      "must be true, false, a postgres:// URL or pg connection settings such as { host: 'db-primary', port: 5432 }, or 'relay'",
    );
  }
  return { notify: true, notifyConnection: Object.freeze({ ...value }), notifyRelay: false };
}

function replicaOption(value: DistributedCacheOptions['replicas']): readonly Knex[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value))
    invalid('replicas', 'must be an array of Knex instances, such as [knex({ client: "pg", connection: REPLICA_URL })]');
  value.forEach((k: unknown, i) => {
    if (!k || typeof k !== 'function' || typeof (k as Knex).raw !== 'function') invalid(`replicas[${i}]`, 'must be a Knex instance');
  });
  return Object.freeze([...value]);
}

/** The first retry delay; it doubles on each retry, so the last one must fit in a timer too. */
function retryDelay(options: DistributedCacheOptions): number {
  const delay = duration('retryDelay', options.retryDelay, DEFAULTS.retryDelay);
  const retries = integer('refresherRetries', options.refresherRetries, DEFAULTS.refresherRetries, 0, 100);
  if (retries > 0 && delay * 2 ** (retries - 1) > MAX_TIMER_MS) {
    invalid(
      'retryDelay',
      `${human(delay)} doubled for each of ${retries} refresherRetries waits ${human(delay * 2 ** (retries - 1))} before the last retry, ` +
        `longer than a timer can wait (about 24.8 days); lower retryDelay or refresherRetries`,
    );
  }
  return delay;
}

function healthThresholds(health: HealthThresholds | undefined, syncInterval: number, maxPendingInstructions: number) {
  if (health !== undefined && (health === null || typeof health !== 'object'))
    invalid('health', "pass an object such as { maxLag: '1m', maxPending: 1000, maxSyncAge: '1m' }");
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
  const safe = hostname()
    .replace(/[^A-Za-z0-9._:@/-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '');
  return (safe || 'server').slice(0, 128);
}
