import { SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
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
    sync: (info, run) => inSpan(tracer, SPAN_NAMES.sync, { 'distcache.server': info.identity }, run, (span, result) => span.setAttributes(syncAttributes(result))),
    refresher: (info, run) => inSpan(tracer, SPAN_NAMES.refresher, refresherAttributes(info), run),
  };
}

function inSpan<T>(tracer: Tracer, name: string, attributes: Attributes, run: () => Promise<T>, onResult?: (span: Span, result: T) => void): Promise<T> {
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
