/**
 * The receiving server of the propagation benchmark (#1), in its own process: a cache whose
 * refresher records, for each payload, how long ago the writer stamped it; and, on PostgreSQL,
 * a bare LISTEN on a channel of its own for the NOTIFY round-trip baseline.
 */
import pg from 'pg';
import { childArgs } from '../lib/child.js';
import { benchCache } from '../lib/cache.js';
import { knexFor, PG_URL, type Target } from '../lib/db.js';
import { wallNow } from '../lib/stats.js';
import { attachWake } from '../lib/wake.js';

interface Args {
  target: Target;
  notify: boolean;
  /** The listener's own connection (straight to PostgreSQL) while the target goes through a pooler. */
  notifyUrl?: string;
  syncInterval?: number;
  /** PostgreSQL: also LISTEN here, for the baseline. */
  rawChannel?: string;
}

export interface Sample {
  kind: 'cache' | 'raw';
  key: number;
  /** Wall-clock time it arrived (the refresher ran, or the NOTIFY was heard). */
  at: number;
}

export type ReceiverIn = { type: 'flush' } | { type: 'stop' };
/** `polls`: how long each of the cache's polls that delivered a change took (sync:complete's durationMs). */
export type ReceiverOut = { type: 'ready' } | { type: 'samples'; samples: Sample[]; polls: number[] };

const args = childArgs<Args>();
const knex = knexFor(args.target, 4);
let samples: Sample[] = [];
let polls: number[] = [];
const cache = benchCache(knex, args.target.prefix, 'receiver', {
  notify: args.notifyUrl ?? args.notify,
  ...(args.syncInterval ? { syncInterval: args.syncInterval } : {}),
  refreshers: [
    {
      id: 'bench',
      refreshAll() {},
      refreshPayload(payloads) {
        const now = wallNow();
        for (const p of payloads as Array<{ k: number }>) samples.push({ kind: 'cache', key: p.k, at: now });
      },
    },
  ],
});
cache.on('sync:complete', (r) => {
  if (r.rows > 0) polls.push(r.durationMs);
});
await cache.start();
const wake = await attachWake(cache, knex, args.notify);

let raw: pg.Client | undefined;
if (args.rawChannel) {
  raw = new pg.Client({ connectionString: PG_URL });
  await raw.connect();
  raw.on('notification', (message) => {
    const now = wallNow();
    samples.push({ kind: 'raw', key: Number(message.payload), at: now });
  });
  await raw.query(`listen "${args.rawChannel}"`);
}

const send = (message: ReceiverOut) => process.send!(message);
process.on('message', (message: ReceiverIn) => {
  if (message.type === 'flush') {
    send({ type: 'samples', samples, polls });
    samples = [];
    polls = [];
  } else {
    void (async () => {
      await wake.stop();
      await cache.stop();
      await raw?.end();
      await knex.destroy();
      process.disconnect();
    })();
  }
});
process.on('disconnect', () => setTimeout(() => process.exit(0), 100).unref());
send({ type: 'ready' });
