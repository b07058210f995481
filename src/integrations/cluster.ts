/**
 * distcache/cluster: one PostgreSQL LISTEN per host for a Node `cluster` application.
 *
 * @example
 * // primary.ts
 * import cluster from 'node:cluster';
 * import { clusterWakeRelay } from 'distcache/cluster';
 * if (cluster.isPrimary) {
 *   const relay = await clusterWakeRelay.primary({ connection: process.env.DATABASE_URL });
 *   for (let i = 0; i < 4; i++) cluster.fork();
 *   process.on('SIGTERM', () => void relay.stop());
 * } else {
 *   // in each worker: no LISTEN session of its own
 *   const cache = new DistributedCache({ knex, refreshers: [products], notify: 'relay' });
 *   await cache.start();
 * }
 */
import { startClusterWakeRelay } from '../cache/relay-primary.js';

export type { ClusterWakeRelay, ClusterWakeRelayOptions } from '../cache/relay-primary.js';

export const clusterWakeRelay = Object.freeze({
  /** In the cluster primary: holds the host's one LISTEN and relays each wake-up to the workers over IPC. */
  primary: startClusterWakeRelay,
});
