/**
 * The receiving server of the region benchmark (#8), in its own process: a region with every
 * key the writer will refresh already cached, recording when each key leaves it (the moment
 * `peek()` starts to return undefined: the apply is synchronous), and the bare 'bench' refresher
 * of #1, recording payloads, for the side-by-side baseline.
 */
import { childArgs } from '../lib/child.js';
import { benchCache } from '../lib/cache.js';
import { knexFor, type Target } from '../lib/db.js';
import { wallNow } from '../lib/stats.js';
import { attachWake } from '../lib/wake.js';
import type { Sample } from './receiver.js';

interface Args {
  target: Target;
  keys: number;
}
export type RegionReceiverIn = { type: 'flush' } | { type: 'stop' };
export type RegionReceiverOut = { type: 'ready' } | { type: 'samples'; samples: Sample[]; stillCached: number };

const args = childArgs<Args>();
const knex = knexFor(args.target, 4);
let samples: Sample[] = [];
const cache = benchCache(knex, args.target.prefix, 'receiver', {
  notify: true,
  refreshers: [
    {
      id: 'bench',
      refreshAll() {},
      refreshPayload(payloads) {
        const now = wallNow();
        for (const p of payloads as Array<{ k: number }>) samples.push({ kind: 'raw', key: p.k, at: now });
      },
    },
  ],
});
const region = cache.region<number>('bench-region', { load: (k) => Number(k) });
cache.on('region:invalidated', ({ keys }) => {
  const now = wallNow();
  if (keys !== 'all') for (const k of keys) samples.push({ kind: 'cache', key: Number(k), at: now });
});
await cache.start();
for (let k = 0; k < args.keys; k++) await region.get(k);
const wake = await attachWake(cache, knex, true);

const send = (message: RegionReceiverOut) => process.send!(message);
process.on('message', (message: RegionReceiverIn) => {
  if (message.type === 'flush') {
    let stillCached = 0;
    for (let k = 0; k < args.keys; k++) if (region.peek(k) !== undefined) stillCached += 1;
    send({ type: 'samples', samples, stillCached });
    samples = [];
  } else {
    void (async () => {
      await wake.stop();
      await cache.stop();
      await knex.destroy();
      process.disconnect();
    })();
  }
});
process.on('disconnect', () => setTimeout(() => process.exit(0), 100).unref());
send({ type: 'ready' });
