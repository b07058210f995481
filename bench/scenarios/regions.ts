import { LRUCache } from 'lru-cache';
import { Child } from '../lib/child.js';
import { benchCache } from '../lib/cache.js';
import { DB_LABEL, dropTarget, freshTarget, knexFor } from '../lib/db.js';
import type { Figure } from '../lib/report.js';
import { pick, type Settings } from '../lib/settings.js';
import { count, mb, pctText, percentile, ratio, sleep, wallNow } from '../lib/stats.js';
import { attachWake, pauseAfterChange } from '../lib/wake.js';
import type { RegionReceiverIn, RegionReceiverOut } from '../children/region-receiver.js';
import type { MemoryOut } from '../children/region-memory.js';

type Product = { id: number; name: string; price: number };

/** #8: cache regions. Hit path, cold key, memory, remote refresh. */
export async function regions(s: Settings): Promise<Figure[]> {
  const figures: Figure[] = [];
  const sqlite = await freshTarget('sqlite');
  try {
    figures.push(...(await localFigures(s, sqlite)));
    figures.push(await memory(s, sqlite));
  } finally {
    await dropTarget(sqlite);
  }
  if (s.dbs.has('postgres')) figures.push(await remoteRefresh(s));
  return figures;
}

async function localFigures(s: Settings, target: Awaited<ReturnType<typeof freshTarget>>): Promise<Figure[]> {
  const keys = 1000;
  const perBlock = pick(s, 200_000, 50_000);
  const blocks = pick(s, 20, 8);
  s.log(`#8 regions: hit path, ${blocks} alternating blocks of ${count(perBlock)} gets; cold key`);
  const knex = knexFor(target);
  const cache = benchCache(knex, target.prefix, 'regions');
  const load = async (k: number): Promise<Product> => ({ id: k, name: `product ${k}`, price: k });
  const region = cache.region<Product>('product', { load: (k) => load(Number(k)) });
  let coldLoads = 0;
  const cold = cache.region<Product>('cold', { load: async (k) => (coldLoads++, await sleep(5), load(Number(k))) });
  await cache.start();
  try {
    // The read-through a user writes by hand over lru-cache.
    const lru = new LRUCache<number, Product>({ max: 10_000 });
    const readThrough = async (k: number): Promise<Product> => {
      const hit = lru.get(k);
      if (hit !== undefined) return hit;
      const loaded = await load(k);
      lru.set(k, loaded);
      return loaded;
    };
    for (let k = 0; k < keys; k++) {
      await region.get(k);
      await readThrough(k);
    }
    const rates = { region: [] as number[], hand: [] as number[] };
    for (let b = 0; b < blocks * 2; b++) {
      const useRegion = b % 2 === 0;
      const started = performance.now();
      if (useRegion) for (let i = 0; i < perBlock; i++) await region.get(i % keys);
      else for (let i = 0; i < perBlock; i++) await readThrough(i % keys);
      const rate = perBlock / ((performance.now() - started) / 1000);
      if (b >= 2) (useRegion ? rates.region : rates.hand).push(rate); // the first pair warms the JIT
    }
    const r = percentile(rates.region, 50);
    const h = percentile(rates.hand, 50);
    const hitRatio = r / h;

    const coldStarted = performance.now();
    const answers = await Promise.all(Array.from({ length: 1000 }, () => cold.get(7)));
    const coldMs = performance.now() - coldStarted;
    const allAnswered = answers.every((a) => a?.id === 7);
    return [
      {
        id: 8,
        what: 'region hit path: await region.get(k) vs a hand-written read-through over lru-cache, alternating blocks',
        db: 'in process',
        result: `${count(Math.round(r))} gets/s (median of ${rates.region.length} blocks)`,
        baseline: `hand-written: ${count(Math.round(h))} gets/s`,
        ratio: ratio(hitRatio),
        floor: 'ratio ≥ 0.8',
        met: hitRatio >= 0.8,
      },
      {
        id: 8,
        what: 'region cold key: 1,000 concurrent gets',
        db: 'in process',
        result:
          `${coldLoads} loader call${coldLoads === 1 ? '' : 's'}, all 1,000 answered: ${allAnswered}, ` +
          `${coldMs.toFixed(1)} ms (loader takes 5 ms)`,
        floor: '1 load',
        met: coldLoads === 1 && allAnswered,
      },
    ];
  } finally {
    await cache.stop();
    await knex.destroy();
  }
}

async function memory(s: Settings, target: Awaited<ReturnType<typeof freshTarget>>): Promise<Figure> {
  const entries = 100_000;
  s.log(`#8 regions: memory of ${count(entries)} entries, region vs plain lru-cache (one process each, --expose-gc)`);
  const heap: Record<'region' | 'lru', number[]> = { region: [], lru: [] };
  for (let i = 0; i < pick(s, 3, 1); i++) {
    for (const mode of ['lru', 'region'] as const) {
      const child = new Child<never, MemoryOut>('region-memory', { target, mode, entries }, ['--expose-gc']);
      heap[mode].push((await child.when((m): m is MemoryOut => m.type === 'heap')).bytes);
      await child.exited;
    }
  }
  const region = percentile(heap.region, 50);
  const lru = percentile(heap.lru, 50);
  return {
    id: 8,
    what: `region memory: ${count(entries)} entries ({ id, name, price }) vs a plain lru-cache holding the same values`,
    db: 'in process',
    result: `${mb(region)} heap`,
    baseline: `plain lru-cache: ${mb(lru)}`,
    ratio: ratio(region / lru),
    floor: 'ratio ≤ 1.2',
    met: region / lru <= 1.2,
    note: 'Median of runs, each mode in its own process; heap after a full GC, before and after filling.',
  };
}

const isSamples = (m: RegionReceiverOut): m is Extract<RegionReceiverOut, { type: 'samples' }> => m.type === 'samples';
const isReady = (m: RegionReceiverOut): m is Extract<RegionReceiverOut, { type: 'ready' }> => m.type === 'ready';

/** From refresh() on one server until peek() on another returns undefined, interleaved with #1's payload path. */
async function remoteRefresh(s: Settings): Promise<Figure> {
  const samples = pick(s, 600, 100);
  const warmup = 30;
  s.log(`#8 regions: remote refresh on PostgreSQL with the wake-up, ${samples} samples, interleaved with #1's payload`);
  const target = await freshTarget('postgres');
  const receiver = new Child<RegionReceiverIn, RegionReceiverOut>('region-receiver', { target, keys: samples + warmup });
  const knex = knexFor(target, 4);
  const writer = benchCache(knex, target.prefix, 'writer', { notify: true });
  writer.region<number>('bench-region', {});
  try {
    await receiver.when(isReady);
    await writer.start();
    const wake = await attachWake(writer, knex, true);
    const sentRegion = new Map<number, { called: number; committed: number }>();
    const sentPayload = new Map<number, { called: number; committed: number }>();
    for (let k = 0; k < samples + warmup; k++) {
      for (const which of k % 2 === 0 ? (['region', 'payload'] as const) : (['payload', 'region'] as const)) {
        const called = wallNow();
        if (which === 'region') await writer.refresh('bench-region', [k]);
        else await writer.refreshPayload('bench', { k });
        const committed = wallNow();
        wake.notifyCommitted();
        if (k >= warmup) (which === 'region' ? sentRegion : sentPayload).set(k, { called, committed });
        await pauseAfterChange();
      }
    }
    await sleep(1500);
    receiver.send({ type: 'flush' });
    const got = await receiver.when(isSamples);
    await wake.stop();
    const fromCommit = (kind: 'cache' | 'raw', sent: Map<number, { committed: number }>) =>
      got.samples.filter((x) => x.kind === kind && sent.has(x.key)).map((x) => x.at - sent.get(x.key)!.committed);
    const fromCall = got.samples
      .filter((x) => x.kind === 'cache' && sentRegion.has(x.key))
      .map((x) => x.at - sentRegion.get(x.key)!.called);
    const region = fromCommit('cache', sentRegion);
    const payload = fromCommit('raw', sentPayload);
    const r = percentile(region, 99) / percentile(payload, 99);
    return {
      id: 8,
      what: 'region remote refresh: refresh() on one server until peek() on another returns undefined, wake-up (LISTEN/NOTIFY)',
      db: DB_LABEL.postgres,
      result: pctText(region),
      baseline: `#1's path, interleaved (a payload to a bare refresher): ${pctText(payload)}`,
      ratio: `p99 ${ratio(r)}×`,
      floor: 'p99 within 1.2× of #1',
      met: r <= 1.2,
      note:
        `From the commit (the writer's call returned), as #1; from the call, commit included: ${pctText(fromCall)}. ` +
        `${got.stillCached} of ${samples + warmup} keys still cached after the run (should be 0).`,
    };
  } finally {
    receiver.send({ type: 'stop' });
    await receiver.exited;
    await writer.stop();
    await knex.destroy();
    await dropTarget(target);
  }
}
