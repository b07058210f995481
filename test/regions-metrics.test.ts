import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { MeterProvider, MetricReader, type Histogram } from '@opentelemetry/sdk-metrics';
import { registerMetrics } from '../src/integrations/prometheus.js';
import { regionMetrics, REGION_INSTRUMENTS, REGION_LOAD_DURATION } from '../src/integrations/opentelemetry.js';
import { LOAD_DURATION_BOUNDS } from '../src/regions/stats.js';
import type { Region } from '../src/index.js';
import { startedCache } from './support/regions.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/** Two regions with known figures: 2 hits, 1 miss, 1 load error, 1 eviction, etc. */
async function twoRegions(t: Parameters<typeof startedCache>[0]) {
  let a!: Region<number>;
  let b!: Region<number>;
  const { cache } = await startedCache(t, (c) => {
    a = c.region<number>('a', { load: (k) => Number(k), max: 2 });
    b = c.region<number>('b', {
      load: () => {
        throw new Error('down');
      },
    });
  });
  await a.get(1);
  await a.get(1);
  await a.get(1);
  await a.get(2);
  await a.get(3); // evicts 1
  await b.get(1).catch(() => undefined);
  return { cache, a, b };
}

test('Prometheus: every region figure, labelled by region, as region.stats() has it', async (t) => {
  const { cache, a, b } = await twoRegions(t);
  const registry = new Registry();
  const handle = registerMetrics(cache, { registry });
  const text = await registry.metrics();
  const value = (metric: string, region: string) =>
    Number(new RegExp(`^distcache_${metric}\\{region="${region}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
  for (const [region, stats] of [
    ['a', a.stats()],
    ['b', b.stats()],
  ] as const) {
    assert.equal(value('region_hits_total', region), stats.hits);
    assert.equal(value('region_misses_total', region), stats.misses);
    assert.equal(value('region_loads_total', region), stats.loads);
    assert.equal(value('region_load_errors_total', region), stats.loadErrors);
    assert.equal(value('region_loads_discarded_total', region), stats.loadsDiscarded);
    assert.equal(value('region_served_from_grace_total', region), stats.servedFromGrace);
    assert.equal(value('region_evictions_total', region), stats.evictions);
    assert.equal(value('region_size', region), stats.size);
  }
  assert.deepEqual([a.stats().hits, a.stats().evictions, a.stats().size, b.stats().loadErrors], [2, 1, 2, 1]);
  await a.get(2);
  assert.equal(
    Number(/^distcache_region_hits_total\{region="a"\} (\S+)$/m.exec(await registry.metrics())?.[1]),
    3,
    'a later scrape shows the new total',
  );
  handle.close();
  assert.equal(registry.getSingleMetric('distcache_region_hits_total'), undefined);
});

test('OpenTelemetry (the real SDK): the same figures as instruments with distcache.region, and the load-duration histogram', async (t) => {
  const { cache, a, b } = await twoRegions(t);
  const reader = new InMemoryReader();
  const provider = new MeterProvider({ readers: [reader] });
  t.after(() => provider.shutdown());
  const handle = regionMetrics(cache, { meter: provider.getMeter('distcache-test') });
  // Loads after regionMetrics() are recorded as they end: 2 of 'a' (one resolves, one throws), 1 of 'b'.
  await a.get(10);
  await a.getOrLoad(11, () => Promise.reject(new Error('down'))).catch(() => undefined);
  await b.get(2).catch(() => undefined);
  const metrics = await reader.collected();
  const point = (name: string, region: string) =>
    metrics.find((m) => m.descriptor.name === name)?.dataPoints.find((p) => p.attributes['distcache.region'] === region);
  for (const [region, stats] of [
    ['a', a.stats()],
    ['b', b.stats()],
  ] as const) {
    for (const [figure, name] of Object.entries(REGION_INSTRUMENTS)) {
      assert.equal(point(name, region)?.value, stats[figure as keyof typeof REGION_INSTRUMENTS], `${name} for ${region}`);
    }
  }
  const histogram = metrics.find((m) => m.descriptor.name === REGION_LOAD_DURATION)!;
  assert.equal(histogram.descriptor.unit, 's');
  const ofA = point(REGION_LOAD_DURATION, 'a')?.value as Histogram;
  const ofB = point(REGION_LOAD_DURATION, 'b')?.value as Histogram;
  assert.equal(ofA.count, 2, "both of a's loader calls, the failed one included");
  assert.equal(ofB.count, 1);
  assert.deepEqual(
    ofA.buckets.boundaries,
    LOAD_DURATION_BOUNDS.filter(Number.isFinite).map((ms) => ms / 1000),
    'the buckets of stats().loadDurations and Prometheus, in seconds',
  );
  assert.equal(
    ofA.buckets.counts.reduce((x, y) => x + y, 0),
    2,
  );
  assert.ok(ofA.sum! >= 0 && ofA.sum! < 1, 'in seconds: these loaders take well under one');
  handle.close();
  await a.get(12);
  const again = (await reader.collected()).find((m) => m.descriptor.name === REGION_LOAD_DURATION);
  const ofAAgain = again?.dataPoints.find((p) => p.attributes['distcache.region'] === 'a')?.value as Histogram;
  assert.equal(ofAAgain.count, 2, 'after close() no load is recorded');
});

test('Prometheus: the load-duration histogram per region, in seconds, with the buckets of stats().loadDurations', async (t) => {
  const { cache, a, b } = await twoRegions(t);
  const registry = new Registry();
  const handle = registerMetrics(cache, { registry });
  t.after(() => handle.close());
  const text = await registry.metrics();
  for (const [region, stats] of [
    ['a', a.stats()],
    ['b', b.stats()],
  ] as const) {
    const d = stats.loadDurations;
    assert.equal(
      Number(new RegExp(`^distcache_region_load_duration_seconds_count\\{region="${region}"\\} (\\S+)$`, 'm').exec(text)?.[1]),
      d.count,
    );
    assert.equal(d.count, stats.loads, 'one observation per loader call');
    d.bounds.forEach((bound, i) => {
      const le = bound === Infinity ? '\\+Inf' : String(bound / 1000).replace('.', '\\.');
      const got = new RegExp(`^distcache_region_load_duration_seconds_bucket\\{le="${le}",region="${region}"\\} (\\S+)$`, 'm').exec(
        text,
      )?.[1];
      assert.equal(Number(got), d.counts[i], `bucket le=${bound} of ${region}`);
    });
  }
});

test('the request cache: hits and misses per perRequest region, in Prometheus and OpenTelemetry; none for other regions', async (t) => {
  let p!: Region<number>;
  let plain!: Region<number>;
  const { cache } = await startedCache(t, (c) => {
    p = c.region<number>('p', { load: (k) => Number(k), perRequest: true });
    plain = c.region<number>('plain', { load: (k) => Number(k) });
  });
  await cache.runInRequest(async () => {
    await p.get(1); // miss: read through the region
    await p.get(1); // hit
    await p.get(1); // hit
    await p.getMany([1, 2, 3]); // 1 hit, 2 misses
    await plain.get(1);
  });
  await p.get(1); // outside a request: neither
  const stats = p.stats();
  assert.deepEqual([stats.requestHits, stats.requestMisses], [3, 3]);
  assert.equal(plain.stats().requestHits, undefined, 'a region without perRequest has no request cache');

  const registry = new Registry();
  const handle = registerMetrics(cache, { registry });
  t.after(() => handle.close());
  const text = await registry.metrics();
  assert.match(text, /^distcache_request_cache_hits_total\{region="p"\} 3$/m);
  assert.match(text, /^distcache_request_cache_misses_total\{region="p"\} 3$/m);
  assert.doesNotMatch(text, /^distcache_request_cache_\w+\{region="plain"\}/m, 'no series for a region without perRequest');

  const reader = new InMemoryReader();
  const provider = new MeterProvider({ readers: [reader] });
  t.after(() => provider.shutdown());
  const otel = regionMetrics(cache, { meter: provider.getMeter('distcache-test') });
  t.after(() => otel.close());
  const metrics = await reader.collected();
  const points = (name: string) => metrics.find((m) => m.descriptor.name === name)?.dataPoints ?? [];
  for (const [name, value] of [
    [REGION_INSTRUMENTS.requestHits, 3],
    [REGION_INSTRUMENTS.requestMisses, 3],
  ] as const) {
    assert.deepEqual(
      points(name).map((d) => [d.attributes['distcache.region'], d.value]),
      [['p', value]],
      `${name}: the perRequest region only`,
    );
  }
});

test("sizeOf: 'json' bounds a region by the UTF-8 bytes of its values' JSON", async (t) => {
  let r!: Region<{ s: string }>;
  await startedCache(
    t,
    (c) => (r = c.region<{ s: string }>('r', { load: (k) => ({ s: 'é'.repeat(Number(k)) }), maxSize: 100, sizeOf: 'json' })),
  );
  await r.get(40); // {"s":"éé…"}: 8 + 40 × 2 bytes = 88
  assert.equal(r.stats().size, 1);
  await r.get(5); // 18 bytes: 106 > 100, so 40 goes
  assert.equal(r.stats().size, 1);
  assert.equal(r.peek(40), undefined);
  assert.equal(r.stats().evictions, 1);
  await r.get(50); // 108 bytes: larger than maxSize on its own, never stored
  assert.equal(r.peek(50), undefined);
  assert.deepEqual(r.peek(5), { s: 'ééééé' });
});

/** A metric reader the test collects from by hand, as a Prometheus or OTLP exporter would on its schedule. */
class InMemoryReader extends MetricReader {
  async collected() {
    const { resourceMetrics } = await this.collect();
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}
