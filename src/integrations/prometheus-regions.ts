import { Counter, Gauge, type Registry } from 'prom-client';
import type { DistributedCache } from '../cache.js';
import type { RegionStats } from '../regions/stats.js';
import type { METRIC_NAMES } from './prometheus-names.js';

type MetricKey = keyof typeof METRIC_NAMES;

/** Each region figure and the metric that exports it; read from `cache.regionStats()` at each scrape. */
const REGION_FIGURES = [
  ['regionHits', 'hits', 'Reads a region answered from its cache, per region.'],
  ['regionMisses', 'misses', 'Reads that found no fresh entry and joined or started a load, per region.'],
  ['regionLoads', 'loads', 'Loader calls, per region.'],
  ['regionLoadErrors', 'loadErrors', 'Loader calls that failed, per region.'],
  ['regionLoadsDiscarded', 'loadsDiscarded', 'Loads an invalidation overtook (answered their callers, stored nothing), per region.'],
  ['regionServedFromGrace', 'servedFromGrace', 'Reads answered with an expired entry because the loader failed, per region.'],
  ['regionEvictions', 'evictions', 'Entries evicted by max or maxSize, per region.'],
  ['regionRefreshesAhead', 'refreshesAhead', 'Background loads started by refreshAhead, per region.'],
  ['regionSoftTimeouts', 'softTimeouts', 'Loads whose soft timeout answered their callers with the graced entry, per region.'],
  ['regionHardTimeouts', 'hardTimeouts', 'Loads given up at hardTimeout, per region.'],
  ['regionSize', 'size', 'Entries in the region now, per region.'],
  ['regionHitRatio', 'hitRatio', 'Reads answered from the cache over all reads, per region.'],
  ['requestCacheHits', 'requestHits', 'Reads inside a request answered from the request cache (regions with perRequest), per region.'],
  ['requestCacheMisses', 'requestMisses', 'Reads inside a request that read through the region (regions with perRequest), per region.'],
] as const satisfies ReadonlyArray<readonly [MetricKey, Exclude<keyof RegionStats, 'region' | 'loadDurations'>, string]>;

/**
 * The region metrics of `registerMetrics`: each region's figures (and its request cache's, for
 * regions with `perRequest`) read from `cache.regionStats()` at each scrape, labelled only with
 * the ids of the regions created on this cache.
 */
export function registerRegionMetrics(cache: DistributedCache, name: (key: MetricKey) => string, registry: Registry): void {
  const registers = [registry];
  for (const [key, figure, help] of REGION_FIGURES) {
    const collect = function (this: Gauge<'region'> | Counter<'region'>) {
      // The region keeps the running totals; the metric shows them as they are at the scrape.
      this.reset();
      for (const stats of cache.regionStats()) {
        // Absent for regions without perRequest (the request cache's figures): no series for them.
        const value = stats[figure];
        if (value !== undefined) (this as Gauge<'region'>).inc({ region: stats.region }, value);
      }
    };
    if (figure === 'size' || figure === 'hitRatio') new Gauge({ name: name(key), help, labelNames: ['region'], registers, collect });
    else new Counter({ name: name(key), help, labelNames: ['region'], registers, collect });
  }
  registry.registerMetric(loadDurationMetric(name('regionLoadDuration'), cache) as unknown as Parameters<Registry['registerMetric']>[0]);
}

/**
 * `region_load_duration_seconds`: the regions keep their own histogram of loader calls (stats()
 * loadDurations), so this metric shows it as it is at each scrape instead of observing again.
 */
function loadDurationMetric(metricName: string, cache: DistributedCache) {
  const help = 'Time a region loader call took (a loadMany call counts once), in seconds, per region.';
  return {
    name: metricName,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset: () => undefined,
    get: () => {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const stats of cache.regionStats()) {
        const d = stats.loadDurations;
        const region = stats.region;
        d.bounds.forEach((bound, i) => {
          const le = bound === Infinity ? '+Inf' : bound / 1000;
          values.push({ labels: { le, region }, value: d.counts[i]!, metricName: `${metricName}_bucket` });
        });
        values.push({ labels: { region }, value: d.sum / 1000, metricName: `${metricName}_sum` });
        values.push({ labels: { region }, value: d.count, metricName: `${metricName}_count` });
      }
      return { name: metricName, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
}
