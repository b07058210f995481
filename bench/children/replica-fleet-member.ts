/**
 * Many simulated cache servers in one process, for the replica fleet benchmark (#10): each its own
 * DistributedCache and identity on a throwaway primary, reading from its standby when `replicaUrl`
 * is given. The process shares one small pool per database among its caches, as a host with many
 * workers behind a pooler would.
 */
import knexFactory, { type Knex } from 'knex';
import { childArgs } from '../lib/child.js';
import { benchCache } from '../lib/cache.js';
import { wallNow } from '../lib/stats.js';
import type { DistributedCache } from '../../src/cache.js';

interface Args {
  primaryUrl: string;
  replicaUrl: string | null;
  prefix: string;
  identities: string[];
  syncInterval: number;
  /** The wake-up (one LISTEN session per process on the primary, shared by its caches). */
  notify: boolean;
}

export type ReplicaFleetIn = { type: 'mark' } | { type: 'status' } | { type: 'report' } | { type: 'stop' };
export type ReplicaFleetOut =
  | { type: 'ready' }
  | { type: 'status'; received: number[] }
  | { type: 'report'; cpuMs: number; elapsedMs: number; delays: number[] }
  | { type: 'stopped' };

const args = childArgs<Args>();
const pool = (url: string): Knex =>
  knexFactory({
    client: 'pg',
    connection: { connectionString: url, application_name: 'distcache-bench-replicas' },
    pool: { min: 1, max: 6 },
  });
const knex = pool(args.primaryUrl);
const replica = args.replicaUrl === null ? undefined : pool(args.replicaUrl);
const received = args.identities.map(() => 0);
let delays: number[] = [];
const caches: DistributedCache[] = args.identities.map((identity, i) =>
  benchCache(knex, args.prefix, identity, {
    ...(replica ? { replicas: [replica] } : {}),
    syncInterval: args.syncInterval,
    // The primary's URL rather than true: the listener then keeps its own application_name
    // ('distcache listener'), by which the scenario counts LISTEN sessions; one per process still.
    notify: args.notify ? args.primaryUrl : false,
    queryTimeout: 30_000,
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
// Started a few at a time, as a fleet rolls out: a thousand first heartbeats at once only measure the pool.
for (let i = 0; i < caches.length; i += 10) await Promise.all(caches.slice(i, i + 10).map((c) => c.start()));

let mark = { t: performance.now(), cpu: process.cpuUsage() };
const send = (message: ReplicaFleetOut) => process.send!(message);
process.on('message', (message: ReplicaFleetIn) => {
  switch (message.type) {
    case 'mark':
      mark = { t: performance.now(), cpu: process.cpuUsage() };
      delays = [];
      break;
    case 'status':
      send({ type: 'status', received: [...received] });
      break;
    case 'report': {
      const cpu = process.cpuUsage(mark.cpu);
      send({ type: 'report', cpuMs: (cpu.user + cpu.system) / 1000, elapsedMs: performance.now() - mark.t, delays });
      break;
    }
    case 'stop':
      void (async () => {
        await Promise.all(caches.map((c) => c.stop()));
        await knex.destroy();
        await replica?.destroy();
        send({ type: 'stopped' });
        process.disconnect();
      })();
  }
});
process.on('disconnect', () => setTimeout(() => process.exit(0), 100).unref());
send({ type: 'ready' });
