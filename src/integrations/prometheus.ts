import { Counter, Gauge, Histogram, register as defaultRegistry, type Registry } from 'prom-client';
import type { DistributedCache } from '../cache.js';
import { errors } from '../errors.js';
import type { DistcacheEvents } from '../events.js';
import { healthOf, roleOf, ROLES } from './features.js';

export interface PrometheusOptions {
  /** Where the metrics are registered. @default prom-client's default registry */
  registry?: Registry;
  /** Prefix of every metric name; use another one per cache when a process runs several. @default 'distcache_' */
  prefix?: string;
  /** Buckets of `apply_duration_seconds`. @default [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30] */
  applyBuckets?: number[];
  /** Buckets of `sync_duration_seconds`. @default [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30] */
  syncBuckets?: number[];
}

export interface MetricsHandle {
  readonly registry: Registry;
  /** The metric names registered, without labels. */
  readonly names: readonly string[];
  /** Stops listening to the cache and removes the metrics from the registry. */
  close(): void;
}

/** Metric names (after the prefix) and their help, in one place; docs/integrations.md lists the same. */
export const METRIC_NAMES = Object.freeze({
  written: 'instructions_written_total',
  rowsWritten: 'rows_written_total',
  writeErrors: 'write_errors_total',
  applied: 'instructions_applied_total',
  applyDuration: 'apply_duration_seconds',
  failures: 'failures_total',
  syncDuration: 'sync_duration_seconds',
  syncErrors: 'sync_errors_total',
  lastSync: 'last_sync_timestamp_seconds',
  lagInstructions: 'sync_lag_instructions',
  lagSeconds: 'sync_lag_seconds',
  coldBoots: 'cold_boots_total',
  role: 'role',
});

const METRIC_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Exposes one cache's activity as Prometheus metrics (prom-client). Counters and histograms follow
 * the cache's events; lag and role are read when the registry is scraped.
 *
 * @example
 * import { registerMetrics } from 'distcache/prometheus';
 * import { register } from 'prom-client';
 * registerMetrics(cache);
 * app.get('/metrics', async (_req, res) => res.type(register.contentType).send(await register.metrics()));
 */
export function registerMetrics(cache: DistributedCache, options: PrometheusOptions = {}): MetricsHandle {
  const registry = options.registry ?? defaultRegistry;
  const prefix = options.prefix ?? 'distcache_';
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_PREFIX.test(prefix))) {
    throw new errors.InvalidOptionError(`prefix: ${JSON.stringify(prefix)} is not valid in a metric name; use letters, digits and underscores, such as 'distcache_'`);
  }
  const name = (key: keyof typeof METRIC_NAMES) => `${prefix}${METRIC_NAMES[key]}`;
  const taken = Object.keys(METRIC_NAMES).map((k) => name(k as keyof typeof METRIC_NAMES)).find((n) => registry.getSingleMetric(n));
  if (taken) {
    throw new errors.InvalidOptionError(`registry: a metric named '${taken}' is already registered; register each cache once, with its own prefix when a process runs several`);
  }
  const registers = [registry];

  const written = new Counter({ name: name('written'), help: 'Instructions this server wrote to the log, per refresher (summed instruction weight).', labelNames: ['refresher'], registers });
  const rowsWritten = new Counter({ name: name('rowsWritten'), help: 'Rows this server wrote to the log.', registers });
  const writeErrors = new Counter({ name: name('writeErrors'), help: 'Writes that failed; nothing was applied for them.', registers });
  const applied = new Counter({
    name: name('applied'),
    help: 'Instructions applied by this server\'s refreshers, per refresher, kind and source (local: written here; remote: read from the log).',
    labelNames: ['refresher', 'kind', 'source'],
    registers,
  });
  const applyDuration = new Histogram({
    name: name('applyDuration'),
    help: 'Time a refresher call took, retries included, in seconds.',
    labelNames: ['refresher', 'kind', 'source'],
    buckets: options.applyBuckets ?? [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers,
  });
  const failures = new Counter({ name: name('failures'), help: 'Failures recorded in the failure table, per refresher and action.', labelNames: ['refresher', 'action'], registers });
  const syncDuration = new Histogram({ name: name('syncDuration'), help: 'Time one poll of the log took, in seconds.', buckets: options.syncBuckets ?? [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers });
  const syncErrors = new Counter({ name: name('syncErrors'), help: 'Polls that failed (the poller retries with backoff).', registers });
  const lastSync = new Gauge({ name: name('lastSync'), help: 'Unix time of the last successful poll, in seconds.', registers });
  const coldBoots = new Counter({ name: name('coldBoots'), help: 'Cold boots (every cache refreshed), per reason.', labelNames: ['reason'], registers });

  // Both lag gauges are read in one scrape; share one query.
  let position: string | undefined;
  let reading: Promise<{ instructions: number; seconds: number } | undefined> | undefined;
  const readLag = () =>
    (reading ??= lag(cache, position)
      .catch((err: unknown) => {
        cache.options.logger.debug({ err: String(err) }, 'distcache metrics: could not read the sync lag');
        return undefined;
      })
      .finally(() => {
        reading = undefined;
      }));
  new Gauge({
    name: name('lagInstructions'),
    help: 'Instructions in the log this server has not applied yet.',
    registers,
    async collect() {
      const value = await readLag();
      if (value) this.set(value.instructions);
    },
  });
  new Gauge({
    name: name('lagSeconds'),
    help: 'Age of the oldest instruction this server has not applied yet, in seconds (0 when caught up).',
    registers,
    async collect() {
      const value = await readLag();
      if (value) this.set(value.seconds);
    },
  });
  new Gauge({
    name: name('role'),
    help: 'This server\'s role in its cluster: 1 for the current role, 0 for the others.',
    labelNames: ['role'],
    registers,
    collect() {
      const current = roleOf(cache) ?? 'unknown';
      for (const role of new Set<string>([...ROLES, current])) this.set({ role }, role === current ? 1 : 0);
    },
  });

  // Until core reports each write's refreshers (seam 'byRefresher'), the local apply that follows
  // every committed write tells them: it applies exactly what was written.
  let exactWrites = false;
  const listeners: Array<() => void> = [];
  const listen = <E extends keyof DistcacheEvents>(event: E, listener: (payload: DistcacheEvents[E]) => void) => {
    cache.on(event, listener);
    listeners.push(() => cache.off(event, listener));
  };
  listen('instruction:written', (e) => {
    rowsWritten.inc(e.rowIds.length);
    const byRefresher = (e as { byRefresher?: Record<string, number> }).byRefresher;
    if (byRefresher) {
      exactWrites = true;
      for (const [refresher, count] of Object.entries(byRefresher)) written.inc({ refresher }, count);
    }
  });
  listen('instruction:applied', (e) => {
    const labels = { refresher: e.refresher, kind: e.kind, source: e.source };
    applied.inc(labels, e.count);
    applyDuration.observe(labels, e.durationMs / 1000);
    if (e.source === 'local' && !exactWrites) written.inc({ refresher: e.refresher }, e.count);
  });
  listen('instruction:failed', (e) => failures.inc({ refresher: e.refresher, action: e.action }));
  listen('instruction:malformed', () => failures.inc({ refresher: '', action: 'skipped-malformed-row' }));
  listen('write:error', () => writeErrors.inc());
  listen('sync:complete', (e) => {
    position = e.position;
    syncDuration.observe(e.durationMs / 1000);
    lastSync.set(Date.now() / 1000);
  });
  listen('sync:error', () => syncErrors.inc());
  listen('server:cold-boot', (e) => coldBoots.inc({ reason: e.reason }));

  const names = Object.keys(METRIC_NAMES).map((k) => name(k as keyof typeof METRIC_NAMES));
  let closed = false;
  return Object.freeze({
    registry,
    names,
    close() {
      if (closed) return;
      closed = true;
      for (const off of listeners) off();
      for (const n of names) registry.removeSingleMetric(n);
    },
  });
}

/** Pending instructions and the age of the oldest, from `cache.health()` when core has it, else from the log. */
async function lag(cache: DistributedCache, position: string | undefined): Promise<{ instructions: number; seconds: number } | undefined> {
  const health = healthOf(cache);
  if (health) {
    const h = await health();
    if (typeof h.pendingInstructions !== 'number') return undefined;
    return { instructions: h.pendingInstructions, seconds: typeof h.lagSeconds === 'number' ? h.lagSeconds : 0 };
  }
  // Before the first poll the position is unknown, and so is the lag.
  if (position === undefined) return undefined;
  const [pending, now] = await Promise.all([cache.store.pending(position), cache.store.now()]);
  const seconds = pending.oldest ? Math.max(0, (now.getTime() - pending.oldest.getTime()) / 1000) : 0;
  return { instructions: pending.instructions, seconds };
}
