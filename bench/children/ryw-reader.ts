/**
 * The reading server of #12's cross-process variant, in its own process: a region over the
 * benchmark's item table with every key cached. For each read the writer hands over a key, the
 * value it wrote, and its position token (the client's next request landing on another server);
 * this server reads the key, after `waitFor(token)` or without it, and says whether the value was
 * older than the write (a stale read) and how long the wait took.
 */
import { childArgs } from '../lib/child.js';
import { benchCache } from '../lib/cache.js';
import { knexFor, type Target } from '../lib/db.js';

interface Args {
  target: Target;
  keys: number;
  wake: boolean;
}
export type RywReaderIn = { type: 'read'; key: number; written: number; token: string; wait: boolean } | { type: 'stop' };
export type RywReaderOut = { type: 'ready' } | { type: 'read'; stale: boolean; applied: boolean | null; waitedMs: number | null };

const args = childArgs<Args>();
const knex = knexFor(args.target, 4);
const table = `${args.target.prefix}app_data`; // dropTarget drops it with the log
const cache = benchCache(knex, args.target.prefix, 'ryw-reader', { notify: args.wake, syncInterval: 1000, refreshers: [] });
const items = cache.region<number>('item', {
  load: async (key) =>
    (
      (await knex(table)
        .where({ id: Number(key) })
        .first('v')) as { v: number } | undefined
    )?.v,
});
// Every item stays cached, as on a server where each is read all the time: an invalidated key is
// read again at once. Otherwise a key dropped by one write would be a miss at its next write, and
// a miss loads the new value: no read could be stale, with or without waitFor.
cache.on('region:invalidated', ({ keys }) => {
  if (keys === 'all') for (let k = 0; k < args.keys; k++) void items.get(k).catch(() => undefined);
  else for (const k of keys) void items.get(k).catch(() => undefined);
});
await cache.start();
for (let k = 0; k < args.keys; k++) await items.get(k);

const send = (message: RywReaderOut) => process.send!(message);
process.on('message', (message: RywReaderIn) => {
  if (message.type === 'read') {
    void (async () => {
      let applied: boolean | null = null;
      let waitedMs: number | null = null;
      if (message.wait) {
        const started = performance.now();
        applied = await cache.waitFor(message.token, { timeout: '5s' });
        waitedMs = performance.now() - started;
      }
      const value = await items.get(message.key);
      send({ type: 'read', stale: value === undefined || value < message.written, applied, waitedMs });
    })();
  } else {
    void (async () => {
      await cache.stop();
      await knex.destroy();
      process.disconnect();
    })();
  }
});
process.on('disconnect', () => setTimeout(() => process.exit(0), 100).unref());
send({ type: 'ready' });
