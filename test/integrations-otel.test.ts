import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { after, test } from 'node:test';
import {
  context,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Attributes,
  type AttributeValue,
  type Context,
  type ContextManager,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  type Tracer,
} from '@opentelemetry/api';
import { MeterProvider, MetricReader, type Histogram } from '@opentelemetry/sdk-metrics';
import { openTelemetryHooks, SPAN_NAMES, traceCache, WAIT_FOR_INSTRUMENTS, waitForMetrics } from '../src/integrations/opentelemetry.js';
import { WAIT_FOR_BUCKETS } from '../src/cache/positions.js';
import { InstrumentationHooks, type Instrumentation } from '../src/instrumentation.js';
import { errors } from '../src/index.js';
import { harness } from './conformance/harness.js';
import { recorder } from './support/recorder.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

// A tracer that keeps its spans in memory and a context manager on AsyncLocalStorage: what an SDK
// would provide, reduced to what the assertions need. Only @opentelemetry/api is installed.

const toMs = (time: TimeInput | undefined): number => {
  if (time === undefined) return performance.timeOrigin + performance.now();
  if (typeof time === 'number') return time;
  if (time instanceof Date) return time.getTime();
  return time[0] * 1000 + time[1] / 1e6;
};

let nextId = 1;
class RecordedSpan implements Span {
  readonly id = (nextId++).toString(16).padStart(16, '0');
  attributes: Attributes = {};
  events: Array<{ name: string; attributes?: Attributes }> = [];
  exceptions: unknown[] = [];
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  endTime: number | undefined;
  readonly startTime: number;
  constructor(
    public name: string,
    options: SpanOptions,
    readonly parent: RecordedSpan | undefined,
  ) {
    this.startTime = toMs(options.startTime);
    this.setAttributes(options.attributes ?? {});
  }
  spanContext(): SpanContext {
    return { traceId: '0'.repeat(31) + '1', spanId: this.id, traceFlags: 1 };
  }
  setAttribute(key: string, value: AttributeValue): this {
    this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.attributes, attributes);
    return this;
  }
  addEvent(name: string, attributes?: Attributes | TimeInput): this {
    this.events.push({ name, attributes: attributes as Attributes });
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.status = status;
    return this;
  }
  updateName(name: string): this {
    this.name = name;
    return this;
  }
  end(endTime?: TimeInput): void {
    assert.equal(this.endTime, undefined, `span ${this.name} ended twice`);
    this.endTime = toMs(endTime);
  }
  isRecording(): boolean {
    return this.endTime === undefined;
  }
  recordException(exception: unknown): void {
    this.exceptions.push(exception);
  }
}

class RecordingTracer implements Tracer {
  spans: RecordedSpan[] = [];
  startSpan(name: string, options: SpanOptions = {}, ctx: Context = context.active()): Span {
    const parent = trace.getSpan(ctx);
    const span = new RecordedSpan(name, options, parent instanceof RecordedSpan ? parent : undefined);
    this.spans.push(span);
    return span;
  }
  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: unknown[]): ReturnType<F> {
    const fn = args.pop() as F;
    const [options, ctx] = args as [SpanOptions | undefined, Context | undefined];
    const span = this.startSpan(name, options, ctx ?? context.active());
    return context.with(trace.setSpan(ctx ?? context.active(), span), () => fn(span)) as ReturnType<F>;
  }
  named(name: string): RecordedSpan[] {
    return this.spans.filter((s) => s.name === name);
  }
}

class AsyncLocalContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.storage.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    return ((...args: unknown[]) => this.with(ctx, target as (...a: unknown[]) => unknown, undefined, ...args)) as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.storage.disable();
    return this;
  }
}

context.setGlobalContextManager(new AsyncLocalContextManager());
after(() => context.disable());

test('a write, its local refresher call, and a poll with its refresher calls become nested spans', async (t) => {
  const h = await harness(t, 'sqlite');
  const tracer = new RecordingTracer();
  // Each call runs a query, so every refresher span has a real duration.
  const slow = (id: string) => recorder(id, { onCall: async () => void (await h.knex.raw('select 1')) });
  const a = h.cache({ serverIdentity: 'a', refreshers: [slow('product')] });
  const b = h.cache({ serverIdentity: 'b', refreshers: [slow('product')] });
  traceCache(a, { tracer });
  traceCache(b, { tracer });
  await a.start();
  await b.start();
  tracer.spans = [];

  await tracer.startActiveSpan('PUT /products/:id', async (request: Span) => {
    await a.refresh('product', [1, 2]);
    request.end();
  });
  const request = tracer.named('PUT /products/:id')[0]!;
  const [write] = tracer.named(SPAN_NAMES.write);
  assert.ok(write, 'a write span');
  assert.equal(write.parent, request, 'the write is a child of the span active where the cache was called');
  assert.equal(write.attributes['distcache.rows'], 1);
  assert.equal(write.attributes['distcache.instructions'], 2);
  assert.equal(write.attributes['distcache.in_transaction'], false);
  assert.equal(write.attributes['distcache.server'], 'a');
  const [local] = tracer.named(SPAN_NAMES.refresher);
  assert.ok(local);
  assert.equal(local.parent, write, 'the local refresher call is inside the write');
  assert.deepEqual(
    {
      refresher: local.attributes['distcache.refresher'],
      kind: local.attributes['distcache.kind'],
      count: local.attributes['distcache.count'],
      source: local.attributes['distcache.source'],
    },
    { refresher: 'product', kind: 'refresh', count: 2, source: 'local' },
  );
  assert.ok(local.endTime! > local.startTime, 'the refresher span has its real duration');

  tracer.spans = [];
  await b.sync();
  // The tracer is shared: a's background work may add spans of its own.
  const [poll] = tracer.named(SPAN_NAMES.sync).filter((s) => s.attributes['distcache.server'] === 'b');
  assert.ok(poll, 'a sync span');
  assert.equal(poll.attributes['distcache.rows'], 1);
  assert.equal(poll.attributes['distcache.instructions'], 2);
  assert.equal(poll.attributes['distcache.server'], 'b');
  const remote = tracer.named(SPAN_NAMES.refresher).filter((s) => s.attributes['distcache.server'] === 'b');
  assert.equal(remote.length, 1);
  assert.equal(remote[0]!.parent, poll, "the poll's refresher calls are its children");
  assert.equal(remote[0]!.attributes['distcache.source'], 'remote');
  assert.ok(remote[0]!.startTime >= poll.startTime - 1 && remote[0]!.endTime! <= poll.endTime! + 1, 'the child lies within the poll');
  assert.ok(
    tracer.spans.every((s) => s.endTime !== undefined),
    'every span ended',
  );
});

test('failures are error spans: a refresher that fails in a poll, and a write that fails', async (t) => {
  const h = await harness(t, 'sqlite');
  const tracer = new RecordingTracer();
  const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
  const failing = {
    id: 'product',
    refreshAll() {},
    refresh() {
      throw new Error('backend down');
    },
  };
  const b = h.cache({ serverIdentity: 'b', refreshers: [failing] });
  traceCache(a, { tracer });
  traceCache(b, { tracer });
  await b.start();
  await a.refresh('product', 1);
  tracer.spans = [];
  await b.sync();
  const [poll] = tracer.named(SPAN_NAMES.sync).filter((s) => s.attributes['distcache.server'] === 'b');
  const failed = tracer.named(SPAN_NAMES.refresher).filter((s) => s.status.code === SpanStatusCode.ERROR);
  assert.ok(failed.length >= 1, 'an error span for the failed call');
  assert.equal(failed.at(-1)!.parent, poll);
  assert.match(String(failed.at(-1)!.status.message), /backend down/);
  const fallback = tracer.named(SPAN_NAMES.refresher).filter((s) => s.attributes['distcache.fallback'] === true);
  assert.equal(fallback.length, 1, 'the refreshAll() fallback is a span of its own');
  assert.equal(fallback[0]!.parent, poll);
  assert.equal(fallback[0]!.status.code, SpanStatusCode.UNSET);

  tracer.spans = [];
  await h.knex.schema.renameTable(h.table('cache_instruction'), `${h.prefix}moved_away`);
  try {
    await assert.rejects(a.refresh('product', 2), errors.WriteFailedError);
  } finally {
    await h.knex.schema.renameTable(`${h.prefix}moved_away`, h.table('cache_instruction'));
  }
  const writes = tracer.named(SPAN_NAMES.write).filter((s) => s.attributes['distcache.server'] === 'a');
  assert.equal(writes.length, 1);
  assert.equal(writes[0]!.status.code, SpanStatusCode.ERROR);
  assert.equal(writes[0]!.exceptions.length, 1);
});

test('a cold boot is an attribute of its poll span; close() stops tracing', async (t) => {
  const h = await harness(t, 'sqlite');
  const tracer = new RecordingTracer();
  const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
  await a.refresh('product', 1);
  const b = h.cache({ serverIdentity: 'b', refreshers: [recorder()] });
  const handle = traceCache(b, { tracer });
  await b.start();
  const [poll] = tracer.named(SPAN_NAMES.sync);
  assert.equal(poll?.attributes['distcache.cold_boot'], 'no-cursor');
  handle.close();
  handle.close();
  tracer.spans = [];
  await a.refresh('product', 2);
  await b.sync();
  assert.deepEqual(tracer.spans, []);
});

test('the instrumentation hooks wrap the real work: duration, nesting, result, and errors', async () => {
  const tracer = new RecordingTracer();
  const hooks = openTelemetryHooks(tracer);
  const result = await hooks.write(
    { identity: 'a', rows: 1, instructions: 3, byRefresher: { product: 2, member: 1 }, inTransaction: false },
    async () => {
      await hooks.refresher(
        { identity: 'a', refresher: 'product', kind: 'refresh', count: 2, source: 'local', attempt: 0, fallback: false },
        async () => 'applied',
      );
      return 42;
    },
  );
  assert.equal(result, 42);
  const [write] = tracer.named(SPAN_NAMES.write);
  const [call] = tracer.named(SPAN_NAMES.refresher);
  assert.equal(call!.parent, write);
  assert.deepEqual(write!.attributes['distcache.refreshers'], ['member', 'product']);
  assert.ok(write!.endTime! >= call!.endTime!);
  const sync = await hooks.sync({ identity: 'b' }, async () => ({
    rows: 2,
    instructions: 5,
    skippedOwn: 1,
    malformed: 0,
    coldBoot: null,
    durationMs: 1,
    position: '9',
  }));
  assert.equal(sync.rows, 2);
  assert.equal(tracer.named(SPAN_NAMES.sync)[0]!.attributes['distcache.skipped_own'], 1);
  await assert.rejects(
    hooks.refresher(
      { identity: 'a', refresher: 'product', kind: 'remove', count: 1, source: 'remote', attempt: 1, fallback: false },
      async () => {
        throw new Error('nope');
      },
    ),
    /nope/,
  );
  const failed = tracer.named(SPAN_NAMES.refresher)[1]!;
  assert.equal(failed.status.code, SpanStatusCode.ERROR);
  assert.equal(failed.attributes['distcache.attempt'], 1);
  assert.ok(tracer.spans.every((s) => s.endTime !== undefined));
});

test('traceCache attaches its hooks with cache.instrument(); close() detaches them', async (t) => {
  const h = await harness(t, 'sqlite');
  const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
  let attached: Instrumentation | undefined;
  let detached = 0;
  const observed: typeof a = Object.create(a, {
    instrument: {
      value: (hooks: Instrumentation) => {
        attached = hooks;
        return () => void detached++;
      },
    },
  });
  const handle = traceCache(observed, { tracer: new RecordingTracer() });
  assert.deepEqual(Object.keys(attached ?? {}).sort(), ['refresher', 'sync', 'write']);
  handle.close();
  assert.equal(detached, 1);
});

test('InstrumentationHooks (the core registry) nests attached hooks and detaches them', async () => {
  const registry = new InstrumentationHooks();
  const order: string[] = [];
  const tracing = (name: string): Instrumentation => ({
    write: async (_info, run) => {
      order.push(`${name}:in`);
      try {
        return await run();
      } finally {
        order.push(`${name}:out`);
      }
    },
  });
  const info = () => ({ identity: 'a', rows: 1, instructions: 1, byRefresher: { product: 1 }, inTransaction: false });
  assert.equal(await registry.write(info, async () => 'bare'), 'bare', 'nothing attached: run is called as is');
  const detachOuter = registry.add(tracing('outer'));
  registry.add(tracing('inner'));
  registry.add({}); // hooks without a write hook are skipped
  assert.equal(await registry.write(info, async () => (order.push('run'), 'done')), 'done');
  assert.deepEqual(order, ['outer:in', 'inner:in', 'run', 'inner:out', 'outer:out']);
  detachOuter();
  order.length = 0;
  await assert.rejects(
    registry.write(info, async () => Promise.reject(new Error('insert failed'))),
    /insert failed/,
  );
  assert.deepEqual(order, ['inner:in', 'inner:out']);
  const tracer = new RecordingTracer();
  registry.add(openTelemetryHooks(tracer));
  const sync = await registry.sync({ identity: 'b' }, async () => ({
    rows: 0,
    instructions: 0,
    skippedOwn: 0,
    malformed: 0,
    coldBoot: null,
    durationMs: 0,
    position: '1',
  }));
  assert.equal(sync.position, '1');
  assert.equal(tracer.named(SPAN_NAMES.sync).length, 1);
});

/** A metric reader the test collects from by hand, as an OTLP exporter would on its schedule. */
class InMemoryReader extends MetricReader {
  async collected() {
    const { resourceMetrics } = await this.collect();
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

test('waitForMetrics (the real SDK): calls and durations per outcome, in seconds; close() stops recording', async (t) => {
  const h = await harness(t, 'sqlite');
  const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
  const b = h.cache({ serverIdentity: 'b', refreshers: [recorder()] });
  const reader = new InMemoryReader();
  const provider = new MeterProvider({ readers: [reader] });
  t.after(() => provider.shutdown());
  const handle = waitForMetrics(b, { meter: provider.getMeter('distcache-test') });
  await a.start();
  await b.start();
  const token = await a.refresh('product', 1);
  assert.equal(await b.waitFor(token, { timeout: 0 }), false);
  assert.equal(await b.waitFor(token, { timeout: '5s' }), true);
  assert.equal(await b.waitFor(token), true);
  await assert.rejects(b.waitFor('nope'), errors.InvalidPositionError);
  const metrics = await reader.collected();
  const points = (name: string) => metrics.find((m) => m.descriptor.name === name)?.dataPoints ?? [];
  const byOutcome = (name: string, value: (v: unknown) => number) =>
    Object.fromEntries(points(name).map((p) => [p.attributes['distcache.outcome'], value(p.value)]));
  assert.deepEqual(byOutcome(WAIT_FOR_INSTRUMENTS.calls, Number), { applied: 1, waited: 1, 'timed-out': 1 });
  assert.deepEqual(
    byOutcome(WAIT_FOR_INSTRUMENTS.duration, (v) => (v as Histogram).count),
    { applied: 1, waited: 1, 'timed-out': 1 },
  );
  const duration = metrics.find((m) => m.descriptor.name === WAIT_FOR_INSTRUMENTS.duration)!;
  assert.equal(duration.descriptor.unit, 's');
  const waited = points(WAIT_FOR_INSTRUMENTS.duration).find((p) => p.attributes['distcache.outcome'] === 'waited')!.value as Histogram;
  assert.deepEqual(waited.buckets.boundaries, [...WAIT_FOR_BUCKETS]);
  assert.ok(waited.sum! > 0 && waited.sum! < 5, `in seconds: ${waited.sum}`);
  handle.close();
  handle.close();
  await b.waitFor(token);
  const again = (await reader.collected()).find((m) => m.descriptor.name === WAIT_FOR_INSTRUMENTS.calls)!;
  assert.equal(
    again.dataPoints.find((p) => p.attributes['distcache.outcome'] === 'applied')?.value,
    1,
    'after close() no call is recorded',
  );
});
