import { Counter, Gauge, Histogram, register as defaultRegistry, type Registry } from 'prom-client';
import type { DistributedCache } from '../cache.js';
import type { HealthReport } from '../cluster/health.js';
import type { ServerRole } from '../cluster/roles.js';
import { errors } from '../errors.js';
import type { DistcacheEvents, WaitOutcome } from '../events.js';
import { registerRegionMetrics } from './prometheus-regions.js';
import { METRIC_NAMES } from './prometheus-names.js';
import { WAIT_FOR_BUCKETS } from '../cache/positions.js';

export interface PrometheusOptions {
  /** Where the metrics are registered. @default prom-client's default registry */
  registry?: Registry;
  /** Prefix of every metric name; use another one per cache when a process runs several. @default 'distcache_' */
  prefix?: string;
  /** Buckets of `apply_duration_seconds`. @default [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30] */
  applyBuckets?: number[];
  /** Buckets of `sync_duration_seconds`. @default [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30] */
  syncBuckets?: number[];
  /** Buckets of `wait_for_duration_seconds`. @default [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] */
  waitForBuckets?: number[];
}

export interface MetricsHandle {
  readonly registry: Registry;
  /** The metric names registered, without labels. */
  readonly names: readonly string[];
  /** Stops listening to the cache and removes the metrics from the registry. */
  close(): void;
}

export { METRIC_NAMES } from './prometheus-names.js';

/** The waitFor outcomes, each listed by the waitFor counter from the start (so a rate never starts from a missing series). */
const WAIT_OUTCOMES = Object.keys({ applied: 0, waited: 0, 'timed-out': 0, stopped: 0 } satisfies Record<WaitOutcome, 0>) as WaitOutcome[];

const METRIC_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Every role, each listed by the role gauge (the `satisfies` keeps the list in step with `ServerRole`). */
const ROLES = Object.keys({ single: 0, 'scheduling-publisher': 0, subscriber: 0, unknown: 0 } satisfies Record<
  ServerRole,
  0
>) as ServerRole[];

/** Every state of the wake-up, each listed by the wake_up gauge. */
const WAKE_UP_STATES = Object.keys({ on: 0, connecting: 0, off: 0, disabled: 0 } satisfies Record<HealthReport['wakeUp'], 0>) as Array<
  HealthReport['wakeUp']
>;

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
    throw new errors.InvalidOptionError(
      `prefix: ${JSON.stringify(prefix)} is not valid in a metric name; use letters, digits and underscores, such as 'distcache_'`,
    );
  }
  const name = (key: keyof typeof METRIC_NAMES) => `${prefix}${METRIC_NAMES[key]}`;
  const taken = Object.keys(METRIC_NAMES)
    .map((k) => name(k as keyof typeof METRIC_NAMES))
    .find((n) => registry.getSingleMetric(n));
  if (taken) {
    throw new errors.InvalidOptionError(
      `registry: a metric named '${taken}' is already registered; register each cache once, with its own prefix when a process ` +
        `runs several`,
    );
  }
  const registers = [registry];

  const written = new Counter({
    name: name('written'),
    help: 'Instructions this server wrote to the log, per refresher (summed instruction weight).',
    labelNames: ['refresher'],
    registers,
  });
  const rowsWritten = new Counter({ name: name('rowsWritten'), help: 'Rows this server wrote to the log.', registers });
  const writeErrors = new Counter({ name: name('writeErrors'), help: 'Writes that failed; nothing was applied for them.', registers });
  const applied = new Counter({
    name: name('applied'),
    help:
      "Instructions applied by this server's refreshers, per refresher, kind and source (local: written here; remote: read from " +
      'the log).',
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
  const failures = new Counter({
    name: name('failures'),
    help: 'Failures recorded in the failure table, per refresher and action.',
    labelNames: ['refresher', 'action'],
    registers,
  });
  const syncDuration = new Histogram({
    name: name('syncDuration'),
    help: 'Time one poll of the log took, in seconds.',
    buckets: options.syncBuckets ?? [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers,
  });
  const syncErrors = new Counter({ name: name('syncErrors'), help: 'Polls that failed (the poller retries with backoff).', registers });
  const lastSync = new Gauge({ name: name('lastSync'), help: 'Unix time of the last successful poll, in seconds.', registers });
  const coldBoots = new Counter({
    name: name('coldBoots'),
    help: 'Cold boots (every cache refreshed), per reason.',
    labelNames: ['reason'],
    registers,
  });

  // Both lag gauges are read in one scrape; share one health() call. It never rejects, and reports
  // null while the lag is unknown (before the first poll, or the log cannot be read): the gauges
  // then keep their last value.
  let reading: Promise<HealthReport> | undefined;
  const readHealth = () => (reading ??= cache.health().finally(() => (reading = undefined)));
  const lagGauge = (key: 'lagInstructions' | 'lagSeconds', help: string, read: (h: HealthReport) => number | null) =>
    new Gauge({
      name: name(key),
      help,
      registers,
      async collect() {
        const value = read(await readHealth());
        if (value !== null) this.set(value);
      },
    });
  lagGauge('lagInstructions', 'Instructions in the log this server has not applied yet.', (h) => h.pendingInstructions);
  lagGauge(
    'lagSeconds',
    'Age of the oldest instruction this server has not applied yet, in seconds (0 when caught up).',
    (h) => h.lagSeconds,
  );
  new Gauge({
    name: name('role'),
    help: "This server's role in its cluster: 1 for the current role, 0 for the others.",
    labelNames: ['role'],
    registers,
    collect() {
      const current = cache.role;
      for (const role of ROLES) this.set({ role }, role === current ? 1 : 0);
    },
  });

  new Gauge({
    name: name('wakeUp'),
    help: "This server's wake-up (cache.health().wakeUp): 1 for the current state (on, connecting, off, disabled), 0 for the others.",
    labelNames: ['state'],
    registers,
    async collect() {
      const current = (await readHealth()).wakeUp;
      for (const state of WAKE_UP_STATES) this.set({ state }, state === current ? 1 : 0);
    },
  });

  registerRegionMetrics(cache, name, registry);

  const waitFor = new Counter({
    name: name('waitFor'),
    help:
      'waitFor() calls (the requestScope middleware included), per outcome: applied (at the first look), waited (after polling), ' +
      'timed-out, stopped (the server was not applying the log).',
    labelNames: ['outcome'],
    registers,
  });
  for (const outcome of WAIT_OUTCOMES) waitFor.inc({ outcome }, 0);
  const waitForDuration = new Histogram({
    name: name('waitForDuration'),
    help: 'Time a waitFor() call took, in seconds, per outcome.',
    labelNames: ['outcome'],
    buckets: options.waitForBuckets ?? [...WAIT_FOR_BUCKETS],
    registers,
  });

  const listeners: Array<() => void> = [];
  const listen = <E extends keyof DistcacheEvents>(event: E, listener: (payload: DistcacheEvents[E]) => void) => {
    cache.on(event, listener);
    listeners.push(() => cache.off(event, listener));
  };
  listen('instruction:written', (e) => {
    rowsWritten.inc(e.rowIds.length);
    for (const [refresher, count] of Object.entries(e.byRefresher)) written.inc({ refresher }, count);
  });
  listen('instruction:applied', (e) => {
    const labels = { refresher: e.refresher, kind: e.kind, source: e.source };
    applied.inc(labels, e.count);
    applyDuration.observe(labels, e.durationMs / 1000);
  });
  // Only registered ids as labels: a row can name any number of unknown refreshers, each a series forever.
  const registered = (id: string) => (cache.refreshers().some((r) => r.id === id) ? id : '(unknown)');
  listen('instruction:failed', (e) => failures.inc({ refresher: registered(e.refresher), action: e.action }));
  // No refresher label: a hostile row could name any number of refreshers.
  listen('instruction:malformed', (e) =>
    failures.inc({ refresher: '', action: e.index === null ? 'skipped-malformed-row' : 'skipped-malformed-instruction' }),
  );
  listen('write:error', () => writeErrors.inc());
  listen('sync:complete', (e) => {
    syncDuration.observe(e.durationMs / 1000);
    lastSync.set(Date.now() / 1000);
  });
  listen('sync:error', () => syncErrors.inc());
  listen('server:cold-boot', (e) => coldBoots.inc({ reason: e.reason }));
  listen('position:waited', (e) => {
    waitFor.inc({ outcome: e.outcome });
    waitForDuration.observe({ outcome: e.outcome }, e.durationMs / 1000);
  });

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
