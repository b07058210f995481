/**
 * Several cache servers in one process, for the fleet benchmark (#7): each its own
 * DistributedCache with its own identity, sharing the process's knex pool (and, with the
 * wake-up, its one listener connection). Counts the queries they send and the CPU they use.
 */
import knexFactory from 'knex';
import { childArgs } from '../lib/child.js';
import { benchCache } from '../lib/cache.js';
import { knexFor, MYSQL_URL, PG_URL, type Target } from '../lib/db.js';
import { FLEET_APP, wallNow } from '../lib/stats.js';
import { attachWake, type Wake } from '../lib/wake.js';
import type { DistributedCache } from '../../src/cache.js';

interface Args {
  target: Target;
  identities: string[];
  notify: boolean;
  syncInterval: number;
}

export type FleetIn = { type: 'mark' } | { type: 'status' } | { type: 'report' } | { type: 'stop' };
export type FleetOut =
  | { type: 'ready' }
  | { type: 'status'; received: number[] }
  | { type: 'report'; queries: number; cpuMs: number; elapsedMs: number; delays: number[] }
  | { type: 'stopped' };

const args = childArgs<Args>();
const poolSize = Math.max(2, Math.ceil(args.identities.length / 2));
const knex =
  args.target.db === 'postgres'
    ? knexFactory({
        client: 'pg',
        connection: { connectionString: PG_URL, application_name: FLEET_APP },
        pool: { min: poolSize, max: poolSize },
      })
    : args.target.db === 'mysql'
      ? knexFactory({
          client: 'mysql2',
          connection: `${MYSQL_URL}?timezone=Z&supportBigNumbers=true`,
          pool: { min: poolSize, max: poolSize },
        })
      : knexFor(args.target);
let queries = 0;
knex.on('query', () => queries++);
const received = args.identities.map(() => 0);
let delays: number[] = [];
const caches: DistributedCache[] = [];
const wakes: Wake[] = [];
args.identities.forEach((identity, i) => {
  caches.push(
    benchCache(knex, args.target.prefix, identity, {
      notify: args.notify,
      syncInterval: args.syncInterval,
      // As deployed: the elected publisher prunes every minute.
      pruneSchedule: '* * * * *',
      refreshers: [
        {
          id: 'bench',
          refreshAll() {},
          refreshPayload(payloads) {
            const now = wallNow();
            for (const p of payloads as Array<{ t: number }>) {
              received[i]! += 1;
              delays.push(now - p.t);
            }
          },
        },
      ],
    }),
  );
});
await Promise.all(caches.map((c) => c.start()));
for (const cache of caches) wakes.push(await attachWake(cache, knex, args.notify));

let mark = { t: performance.now(), cpu: process.cpuUsage(), queries: 0 };
const send = (message: FleetOut) => process.send!(message);
process.on('message', (message: FleetIn) => {
  switch (message.type) {
    case 'mark':
      mark = { t: performance.now(), cpu: process.cpuUsage(), queries };
      delays = [];
      break;
    case 'status':
      send({ type: 'status', received: [...received] });
      break;
    case 'report': {
      const cpu = process.cpuUsage(mark.cpu);
      send({
        type: 'report',
        queries: queries - mark.queries,
        cpuMs: (cpu.user + cpu.system) / 1000,
        elapsedMs: performance.now() - mark.t,
        delays,
      });
      break;
    }
    case 'stop':
      void (async () => {
        await Promise.all(wakes.map((w) => w.stop()));
        await Promise.all(caches.map((c) => c.stop()));
        await knex.destroy();
        send({ type: 'stopped' });
        process.disconnect();
      })();
  }
});
process.on('disconnect', () => setTimeout(() => process.exit(0), 100).unref());
send({ type: 'ready' });
