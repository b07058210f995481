import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import type { DistributedCache } from '../cache.js';
import type { DistcacheEvents } from '../events.js';
import type { SyncResult } from '../sync/poller.js';
import { instrumentOf } from './features.js';
import type { Instrumentation, RefresherCallInfo, WriteInfo } from '../instrumentation.js';

export interface TracingOptions {
  /** @default trace.getTracer('distcache') from the global tracer provider your SDK registers */
  tracer?: Tracer;
}

export interface TracingHandle {
  /**
   * 'hooks': spans wrap the real operations (core has `cache.instrument`). 'events': spans are
   * rebuilt from the cache's events (see docs/integrations.md for what differs).
   */
  readonly mode: 'hooks' | 'events';
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
 * `distcache.refresher` per refresher call. A write's spans are children of the span active where
 * the cache was called (the HTTP request, the job); a poll's refresher spans are children of the poll.
 *
 * @example
 * import { traceCache } from 'distcache/opentelemetry';
 * traceCache(cache);
 */
export function traceCache(cache: DistributedCache, options: TracingOptions = {}): TracingHandle {
  const tracer = options.tracer ?? trace.getTracer('distcache');
  const identity = cache.options.serverIdentity;
  const instrument = instrumentOf(cache);
  if (instrument) {
    const detach = instrument(openTelemetryHooks(tracer));
    return Object.freeze({ mode: 'hooks' as const, close: detach });
  }
  return traceFromEvents(cache, tracer, identity);
}

/** Instrumentation hooks that wrap each operation in a span; for the core seam `cache.instrument()`. */
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
      fail(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

function fail(span: Span, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}

function writeAttributes(info: Omit<WriteInfo, 'byRefresher'> & { byRefresher?: Readonly<Record<string, number>> }): Attributes {
  return {
    'distcache.server': info.identity,
    'distcache.rows': info.rows,
    'distcache.instructions': info.instructions,
    'distcache.in_transaction': info.inTransaction,
    ...(info.byRefresher ? { 'distcache.refreshers': Object.keys(info.byRefresher).sort() } : {}),
  };
}

function refresherAttributes(info: Omit<RefresherCallInfo, 'attempt' | 'fallback'> & { attempt?: number; fallback?: boolean }): Attributes {
  return {
    'distcache.server': info.identity,
    'distcache.refresher': info.refresher,
    'distcache.kind': info.kind,
    'distcache.count': info.count,
    'distcache.source': info.source,
    ...(info.attempt !== undefined ? { 'distcache.attempt': info.attempt } : {}),
    ...(info.fallback !== undefined ? { 'distcache.fallback': info.fallback } : {}),
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

/** Milliseconds since the epoch, with sub-millisecond precision. */
const now = () => performance.timeOrigin + performance.now();

/** Work seen during a poll, turned into child spans of the poll's span when it ends. */
type PollItem =
  | { type: 'span'; name: string; start: number; end: number; attributes: Attributes; error?: Error }
  | { type: 'event'; name: string; at: number; attributes: Attributes };

/** Bounds what one poll keeps in memory; a huge catch-up is summarised by `distcache.spans_dropped`. */
const MAX_POLL_ITEMS = 1000;

/**
 * Spans rebuilt from events, for a core without `cache.instrument`. Events carry durations, so
 * poll and refresher spans get their real start and end; a write's span is a marker at its commit.
 * Events are emitted in the async context of the work, so a local write's spans nest under the
 * caller's active span. Remote refresher calls happen inside a poll, whose event comes last, so
 * they are kept until the poll ends and then become its children.
 */
function traceFromEvents(cache: DistributedCache, tracer: Tracer, identity: string): TracingHandle {
  let items: PollItem[] = [];
  let dropped = 0;
  // A first start's cold boot is not in its SyncResult, only in its event.
  let coldBoot: string | undefined;
  const keep = (item: PollItem) => {
    if (items.length < MAX_POLL_ITEMS) items.push(item);
    else dropped += 1;
  };
  const endPoll = (durationMs: number, attributes: Attributes, error?: Error) => {
    const end = now();
    const span = tracer.startSpan(
      SPAN_NAMES.sync,
      { kind: SpanKind.INTERNAL, startTime: end - durationMs, attributes: { 'distcache.server': identity, ...(coldBoot ? { 'distcache.cold_boot': coldBoot } : {}), ...attributes } },
      context.active(),
    );
    if (dropped > 0) span.setAttribute('distcache.spans_dropped', dropped);
    const parent = trace.setSpan(context.active(), span);
    for (const item of items) {
      if (item.type === 'event') {
        span.addEvent(item.name, item.attributes, item.at);
        continue;
      }
      const child = tracer.startSpan(item.name, { kind: SpanKind.INTERNAL, startTime: item.start, attributes: item.attributes }, parent);
      if (item.error) fail(child, item.error);
      child.end(item.end);
    }
    if (error) fail(span, error);
    span.end(end);
    items = [];
    dropped = 0;
    coldBoot = undefined;
  };
  /** A span that already happened, in the current context; `durationMs` 0 makes a marker. */
  const past = (name: string, durationMs: number, attributes: Attributes, error?: Error) => {
    const end = now();
    const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL, startTime: end - durationMs, attributes }, context.active());
    if (error) fail(span, error);
    span.end(end);
  };

  const listeners: Array<() => void> = [];
  const listen = <E extends keyof DistcacheEvents>(event: E, listener: (payload: DistcacheEvents[E]) => void) => {
    cache.on(event, listener);
    listeners.push(() => cache.off(event, listener));
  };
  listen('instruction:written', (e) => {
    const byRefresher = (e as { byRefresher?: Record<string, number> }).byRefresher;
    // A marker at the commit, unless core reports the write's duration (proposed seam).
    past(SPAN_NAMES.write, (e as { durationMs?: number }).durationMs ?? 0, { ...writeAttributes({ identity, rows: e.rowIds.length, instructions: e.instructions, inTransaction: e.inTransaction, byRefresher }), 'distcache.row_ids': e.rowIds.slice(0, 100) });
  });
  listen('write:error', (e) => past(SPAN_NAMES.write, 0, { 'distcache.server': identity }, e.error));
  listen('instruction:applied', (e) => {
    const attributes = refresherAttributes({ identity, refresher: e.refresher, kind: e.kind, count: e.count, source: e.source });
    if (e.source === 'local') past(SPAN_NAMES.refresher, e.durationMs, attributes);
    else {
      const end = now();
      keep({ type: 'span', name: SPAN_NAMES.refresher, start: end - e.durationMs, end, attributes });
    }
  });
  listen('instruction:failed', (e) => {
    const attributes: Attributes = { 'distcache.server': identity, 'distcache.refresher': e.refresher, 'distcache.failure_action': e.action, ...(e.kind ? { 'distcache.kind': e.kind } : {}) };
    // Rows come with remote instructions only; a local write's failure belongs to its caller's span.
    if (e.rowIds.length === 0) past(SPAN_NAMES.refresher, 0, { ...attributes, 'distcache.source': 'local' }, e.error);
    else {
      const at = now();
      keep({ type: 'span', name: SPAN_NAMES.refresher, start: at, end: at, attributes: { ...attributes, 'distcache.source': 'remote', 'distcache.row_ids': e.rowIds.slice(0, 100) }, error: e.error });
    }
  });
  listen('instruction:malformed', (e) => keep({ type: 'event', name: 'distcache.malformed_row', at: now(), attributes: { 'distcache.row_id': e.rowId, 'distcache.reason': e.reason } }));
  listen('server:cold-boot', (e) => {
    coldBoot = e.reason;
    keep({ type: 'event', name: 'distcache.cold_boot', at: now(), attributes: { 'distcache.reason': e.reason, ...(e.pendingInstructions !== null ? { 'distcache.pending_instructions': e.pendingInstructions } : {}) } });
  });
  listen('sync:complete', (e) => endPoll(e.durationMs, syncAttributes(e)));
  listen('sync:error', (e) => endPoll(0, { 'distcache.consecutive_failures': e.consecutiveFailures }, e.error));

  let closed = false;
  return Object.freeze({
    mode: 'events' as const,
    close() {
      if (closed) return;
      closed = true;
      for (const off of listeners) off();
    },
  });
}
