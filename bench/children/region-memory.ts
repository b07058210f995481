/**
 * Memory of 100,000 entries (#8), in a process of its own started with --expose-gc: the heap
 * grown by filling a region, or a plain lru-cache, with the same values. One mode per process, so
 * neither measurement sees the other's garbage.
 */
import { LRUCache } from 'lru-cache';
import { childArgs } from '../lib/child.js';
import { benchCache } from '../lib/cache.js';
import { knexFor, type Target } from '../lib/db.js';

interface Args {
  target: Target;
  mode: 'region' | 'lru';
  entries: number;
}
export type MemoryOut = { type: 'heap'; bytes: number };

const args = childArgs<Args>();
const gc = (globalThis as { gc?: () => void }).gc!;
const value = (i: number) => ({ id: i, name: `product ${i}`, price: i / 100 });
const knex = knexFor(args.target, 2);
const cache = benchCache(knex, args.target.prefix, `memory-${args.mode}`);
const region = cache.region<ReturnType<typeof value>>('memory', { max: args.entries });
await cache.start();
const lru = new LRUCache<number, ReturnType<typeof value>>({ max: args.entries });

gc();
const before = process.memoryUsage().heapUsed;
if (args.mode === 'region') {
  for (let i = 0; i < args.entries; i++) await region.getOrLoad(i, () => value(i));
} else {
  for (let i = 0; i < args.entries; i++) lru.set(i, value(i));
}
gc();
const after = process.memoryUsage().heapUsed;
if (region.stats().size + lru.size !== args.entries) throw new Error('the cache does not hold every entry');
process.send!({ type: 'heap', bytes: after - before } satisfies MemoryOut);
await cache.stop();
await knex.destroy();
process.disconnect();
