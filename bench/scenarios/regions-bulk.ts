import { LRUCache } from 'lru-cache';
import { benchCache } from '../lib/cache.js';
import { dropTarget, freshTarget, knexFor } from '../lib/db.js';
import type { Figure } from '../lib/report.js';
import { pick, type Settings } from '../lib/settings.js';
import { count, percentile, ratio } from '../lib/stats.js';

type Product = { id: number; name: string; price: number };

/**
 * #9 (issue 27): a getMany of cold keys through loadMany, and the hit path of a region with
 * refreshAhead and timeouts configured (the options that add work to a hit) against a hand-written
 * read-through over lru-cache.
 */
export async function regionsBulk(s: Settings): Promise<Figure[]> {
  const target = await freshTarget('sqlite');
  const knex = knexFor(target);
  const cache = benchCache(knex, target.prefix, 'regions-bulk');
  const product = (k: number): Product => ({ id: k, name: `product ${k}`, price: k });
  let bulkCalls = 0;
  const bulk = cache.region<Product>('bulk', {
    loadMany: async (keys) => (bulkCalls++, new Map(keys.map((k) => [k, product(Number(k))]))),
  });
  const hot = cache.region<Product>('hot', { load: async (k) => product(Number(k)), ttl: '1h', refreshAhead: 0.8, timeout: '1s' });
  await cache.start();
  try {
    s.log('#9 regions: getMany of 100 cold keys; hit path with refreshAhead and timeout set');
    const keys = Array.from({ length: 100 }, (_, i) => i);
    const started = performance.now();
    const values = await bulk.getMany(keys);
    const bulkMs = performance.now() - started;
    const allAnswered = values.every((v, i) => v?.id === i);

    // The same ttl, so both pay lru-cache's ttl checks.
    const lru = new LRUCache<number, Product>({ max: 10_000, ttl: 3_600_000 });
    const readThrough = async (k: number): Promise<Product> => {
      const hit = lru.get(k);
      if (hit !== undefined) return hit;
      const loaded = product(k);
      lru.set(k, loaded);
      return loaded;
    };
    const n = 1000;
    for (let k = 0; k < n; k++) {
      await hot.get(k);
      await readThrough(k);
    }
    const perBlock = pick(s, 200_000, 50_000);
    const blocks = pick(s, 20, 8);
    const rates = { region: [] as number[], hand: [] as number[] };
    for (let b = 0; b < blocks * 2; b++) {
      const useRegion = b % 2 === 0;
      const t0 = performance.now();
      if (useRegion) for (let i = 0; i < perBlock; i++) await hot.get(i % n);
      else for (let i = 0; i < perBlock; i++) await readThrough(i % n);
      const rate = perBlock / ((performance.now() - t0) / 1000);
      if (b >= 2) (useRegion ? rates.region : rates.hand).push(rate);
    }
    const r = percentile(rates.region, 50);
    const h = percentile(rates.hand, 50);
    return [
      {
        id: 9,
        what: 'region getMany of 100 cold keys with loadMany',
        db: 'in process',
        result: `${bulkCalls} loader call${bulkCalls === 1 ? '' : 's'}, all 100 answered: ${allAnswered}, ${bulkMs.toFixed(1)} ms`,
        floor: '1 loader call',
        met: bulkCalls === 1 && allAnswered,
      },
      {
        id: 9,
        what:
          'region hit path with ttl, refreshAhead 0.8 and timeout set vs a hand-written lru-cache read-through with the same ttl, ' +
          'alternating blocks',
        db: 'in process',
        result: `${count(Math.round(r))} gets/s (median of ${rates.region.length} blocks)`,
        baseline: `hand-written: ${count(Math.round(h))} gets/s`,
        ratio: ratio(r / h),
        floor: 'ratio ≥ 1.0',
        met: r / h >= 1.0,
      },
    ];
  } finally {
    await cache.stop();
    await knex.destroy();
    await dropTarget(target);
  }
}
