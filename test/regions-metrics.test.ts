import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { Attributes, Meter, Observable } from '@opentelemetry/api';
import { registerMetrics } from '../src/integrations/prometheus.js';
import { regionMetrics, REGION_INSTRUMENTS } from '../src/integrations/opentelemetry.js';
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

test('OpenTelemetry: the same figures as observable instruments with distcache.region', async (t) => {
  const { cache, a, b } = await twoRegions(t);
  // A meter as the API defines it, recording what the SDK would collect.
  const created = new Map<string, Observable>();
  const callbacks = new Set<(r: { observe(o: Observable, v: number, attrs?: Attributes): void }) => void>();
  const make = (name: string) => {
    const o = { addCallback() {}, removeCallback() {} } as unknown as Observable;
    created.set(name, o);
    return o;
  };
  const meter = {
    createObservableCounter: make,
    createObservableGauge: make,
    addBatchObservableCallback: (cb: never) => void callbacks.add(cb),
    removeBatchObservableCallback: (cb: never) => void callbacks.delete(cb),
  } as unknown as Meter;
  const handle = regionMetrics(cache, { meter });
  const seen = new Map<string, number>();
  const byInstrument = new Map([...created].map(([name, o]) => [o, name]));
  for (const cb of callbacks) cb({ observe: (o, v, attrs) => void seen.set(`${byInstrument.get(o)}|${attrs?.['distcache.region']}`, v) });
  for (const [region, stats] of [
    ['a', a.stats()],
    ['b', b.stats()],
  ] as const) {
    for (const [figure, name] of Object.entries(REGION_INSTRUMENTS)) {
      assert.equal(seen.get(`${name}|${region}`), stats[figure as keyof typeof REGION_INSTRUMENTS], `${name} for ${region}`);
    }
  }
  handle.close();
  assert.equal(callbacks.size, 0);
});
