import { metrics, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Meter, Observable, Span, Tracer } from '@opentelemetry/api';
import { LOAD_DURATION_BOUNDS, type RegionStats } from '../regions/stats.js';
import type { DistcacheEvents } from '../events.js';
import { WAIT_FOR_BUCKETS } from '../cache/positions.js';
import type { DistributedCache } from '../cache.js';
import type { SyncResult } from '../sync/poller.js';
import type { Instrumentation, RefresherCallInfo, WriteInfo } from '../instrumentation.js';

export interface TracingOptions {
  /** @default trace.getTracer('distcache') from the global tracer provider your SDK registers */
  tracer?: Tracer;
}

export interface TracingHandle {
  /** Stops tracing this cache. */
  close(): void;
}

/** Span names; docs/integrations.md lists them with their attributes. */
export const SPAN_NAMES = Object.freeze({
  write: 'distcache.write',
  sync: 'distcache.sync',
  refresher: 'distcache.refresher',
});

/**
 * Traces one cache through `@opentelemetry/api` only: your SDK (or none) decides where spans go.
 * Spans: `distcache.write` per write, `distcache.sync` per poll of the log, and
 * `distcache.refresher` per refresher call (each retry and fallback its own). Each span wraps the
 * real operation: a write's span is a child of the span active where the cache was called (the
 * HTTP request, the job) and holds its local refresher calls; a poll's span holds its refresher calls.
 *
 * @example
 * import { traceCache } from 'distcache/opentelemetry';
 * traceCache(cache);
 */
export function traceCache(cache: DistributedCache, options: TracingOptions = {}): TracingHandle {
  const close = cache.instrument(openTelemetryHooks(options.tracer ?? trace.getTracer('distcache')));
  return Object.freeze({ close });
}

/** Instrumentation hooks that wrap each operation in a span, for `cache.instrument()`; `traceCache` attaches them. */
export function openTelemetryHooks(tracer: Tracer): Required<Instrumentation> {
  return {
    write: (info, run) => inSpan(tracer, SPAN_NAMES.write, writeAttributes(info), run),
    sync: (info, run) =>
      inSpan(tracer, SPAN_NAMES.sync, { 'distcache.server': info.identity }, run, (span, result) =>
        span.setAttributes(syncAttributes(result)),
      ),
    refresher: (info, run) => inSpan(tracer, SPAN_NAMES.refresher, refresherAttributes(info), run),
  };
}

function inSpan<T>(
  tracer: Tracer,
  name: string,
  attributes: Attributes,
  run: () => Promise<T>,
  onResult?: (span: Span, result: T) => void,
): Promise<T> {
  return tracer.startActiveSpan(name, { kind: SpanKind.INTERNAL, attributes }, async (span) => {
    try {
      const result = await run();
      onResult?.(span, result);
      return result;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

function writeAttributes(info: WriteInfo): Attributes {
  return {
    'distcache.server': info.identity,
    'distcache.rows': info.rows,
    'distcache.instructions': info.instructions,
    'distcache.in_transaction': info.inTransaction,
    'distcache.refreshers': Object.keys(info.byRefresher).sort(),
  };
}

function refresherAttributes(info: RefresherCallInfo): Attributes {
  return {
    'distcache.server': info.identity,
    'distcache.refresher': info.refresher,
    'distcache.kind': info.kind,
    'distcache.count': info.count,
    'distcache.source': info.source,
    'distcache.attempt': info.attempt,
    'distcache.fallback': info.fallback,
  };
}

function syncAttributes(result: SyncResult): Attributes {
  return {
    'distcache.rows': result.rows,
    'distcache.instructions': result.instructions,
    'distcache.skipped_own': result.skippedOwn,
    'distcache.malformed': result.malformed,
    ...(result.coldBoot ? { 'distcache.cold_boot': result.coldBoot } : {}),
  };
}

/** Region instrument names (the same figures as `region.stats()` and the Prometheus `region_*` metrics). */
export const REGION_INSTRUMENTS = Object.freeze({
  hits: 'distcache.region.hits',
  misses: 'distcache.region.misses',
  loads: 'distcache.region.loads',
  loadErrors: 'distcache.region.load_errors',
  loadsDiscarded: 'distcache.region.loads_discarded',
  servedFromGrace: 'distcache.region.served_from_grace',
  evictions: 'distcache.region.evictions',
  refreshesAhead: 'distcache.region.refreshes_ahead',
  softTimeouts: 'distcache.region.soft_timeouts',
  hardTimeouts: 'distcache.region.hard_timeouts',
  size: 'distcache.region.size',
  hitRatio: 'distcache.region.hit_ratio',
  requestHits: 'distcache.region.request_hits',
  requestMisses: 'distcache.region.request_misses',
} satisfies Record<Exclude<keyof RegionStats, 'region' | 'loadDurations'>, string>);

/**
 * The histogram of loader call durations, in seconds, with `distcache.region` (a `loadMany` call
 * counts once). The API has no observable histogram, so each call is recorded as it ends
 * (the `region:load-finished` event); its buckets are `stats().loadDurations`' and Prometheus'.
 */
export const REGION_LOAD_DURATION = 'distcache.region.load_duration';

/** Gauges (a value now); every other region figure is a running total. */
const REGION_GAUGES = new Set<string>(['size', 'hitRatio']);

export interface RegionMetricsOptions {
  /** @default metrics.getMeter('distcache') from the global meter provider your SDK registers */
  meter?: Meter;
}

/**
 * Exports every region's figures as OpenTelemetry instruments, with the attribute
 * `distcache.region`: observable monotonic counters for the totals (the request cache's
 * `requestHits` and `requestMisses` included, for regions with `perRequest`) and gauges for `size` and
 * `hitRatio`, read from `cache.regionStats()` whenever the SDK collects; and a histogram of loader
 * call durations (REGION_LOAD_DURATION), recorded as each call ends, from this call on.
 *
 * @example
 * import { regionMetrics } from 'distcache/opentelemetry';
 * regionMetrics(cache);
 */
export function regionMetrics(cache: DistributedCache, options: RegionMetricsOptions = {}): TracingHandle {
  const meter = options.meter ?? metrics.getMeter('distcache');
  const instruments = Object.entries(REGION_INSTRUMENTS).map(([figure, name]) => {
    const instrument: Observable = REGION_GAUGES.has(figure) ? meter.createObservableGauge(name) : meter.createObservableCounter(name);
    return [figure as keyof typeof REGION_INSTRUMENTS, instrument] as const;
  });
  const callback = (result: { observe(observable: Observable, value: number, attributes?: Attributes): void }) => {
    for (const stats of cache.regionStats()) {
      for (const [figure, instrument] of instruments) {
        // The request cache's figures exist only for regions with perRequest.
        const value = stats[figure];
        if (value !== undefined) result.observe(instrument, value, { 'distcache.region': stats.region });
      }
    }
  };
  const observables = instruments.map(([, i]) => i);
  meter.addBatchObservableCallback(callback, observables);
  const loadDuration = meter.createHistogram(REGION_LOAD_DURATION, {
    description: 'Time a region loader call took (a loadMany call counts once)',
    unit: 's',
    advice: { explicitBucketBoundaries: LOAD_DURATION_BOUNDS.filter(Number.isFinite).map((ms) => ms / 1000) },
  });
  const onLoad = (e: DistcacheEvents['region:load-finished']) => loadDuration.record(e.durationMs / 1000, { 'distcache.region': e.region });
  cache.on('region:load-finished', onLoad);
  let closed = false;
  return Object.freeze({
    close() {
      if (closed) return;
      closed = true;
      meter.removeBatchObservableCallback(callback, observables);
      cache.off('region:load-finished', onLoad);
    },
  });
}

/** waitFor instrument names: calls per outcome, and their durations. */
export const WAIT_FOR_INSTRUMENTS = Object.freeze({
  calls: 'distcache.wait_for.calls',
  duration: 'distcache.wait_for.duration',
});

/**
 * Records each `waitFor()` call (the requestScope middleware's included), from this call on: the
 * counter `distcache.wait_for.calls` and the histogram `distcache.wait_for.duration` (seconds), both
 * with the attribute `distcache.outcome` (`applied`, `waited`, `timed-out`, `stopped`).
 *
 * @example
 * import { waitForMetrics } from 'distcache/opentelemetry';
 * waitForMetrics(cache);
 */
export function waitForMetrics(cache: DistributedCache, options: RegionMetricsOptions = {}): TracingHandle {
  const meter = options.meter ?? metrics.getMeter('distcache');
  const calls = meter.createCounter(WAIT_FOR_INSTRUMENTS.calls, { description: 'waitFor() calls, per outcome' });
  const duration = meter.createHistogram(WAIT_FOR_INSTRUMENTS.duration, {
    description: 'Time a waitFor() call took, per outcome',
    unit: 's',
    advice: { explicitBucketBoundaries: [...WAIT_FOR_BUCKETS] },
  });
  const onWaited = (e: DistcacheEvents['position:waited']) => {
    const attributes = { 'distcache.outcome': e.outcome };
    calls.add(1, attributes);
    duration.record(e.durationMs / 1000, attributes);
  };
  cache.on('position:waited', onWaited);
  let closed = false;
  return Object.freeze({
    close() {
      if (closed) return;
      closed = true;
      cache.off('position:waited', onWaited);
    },
  });
}
