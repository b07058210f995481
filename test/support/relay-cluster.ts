/**
 * A Node `cluster` application for the wake-relay test and benchmark: this file is both the
 * primary (argv[2]: its settings as JSON) and, forked by it, the workers. In mode 'relay' the
 * primary holds the host's one LISTEN (clusterWakeRelay) and the workers' caches use
 * notify: 'relay'; in mode 'own' each worker's cache LISTENs itself. Every worker's cache polls
 * only once a minute, so within a test's deadline only a wake-up delivers. Reports to the parent
 * over IPC: { type: 'ready' }, { type: 'applied', worker, ids, at }, { type: 'stopped' }; takes
 * { type: 'stop' } and { type: 'write', id } (the first worker refreshes id: a write inside the cluster).
 */
import cluster from 'node:cluster';
import knexFactory from 'knex';
import { DistributedCache } from '../../src/index.js';
import { clusterWakeRelay } from '../../src/integrations/cluster.js';
import { silentLogger } from '../../src/logger.js';
import { recorder } from './recorder.js';

export interface RelayClusterSettings {
  url: string;
  prefix: string;
  workers: number;
  mode: 'relay' | 'own';
}

export type RelayClusterReport =
  { type: 'ready' } | { type: 'applied'; worker: number; ids: Array<string | number>; at: number } | { type: 'stopped' };

const settings = JSON.parse(process.env.RELAY_CLUSTER ?? process.argv[2] ?? '{}') as RelayClusterSettings;

if (cluster.isPrimary) await primary();
else await worker();

async function primary(): Promise<void> {
  const report = (message: RelayClusterReport) => process.send?.(message);
  const relay =
    settings.mode === 'relay'
      ? await clusterWakeRelay.primary({ connection: settings.url, tablePrefix: settings.prefix, logger: silentLogger })
      : undefined;
  const ready = new Set<number>();
  cluster.on('message', (w, message: { type?: string; ids?: Array<string | number>; at?: number }) => {
    if (message.type === 'ready' && ready.add(w.id).size === settings.workers) report({ type: 'ready' });
    if (message.type === 'applied') report({ type: 'applied', worker: w.id, ids: message.ids ?? [], at: message.at ?? 0 });
  });
  for (let i = 0; i < settings.workers; i++) cluster.fork({ RELAY_CLUSTER: JSON.stringify(settings) });
  process.on('message', (message: { type?: string; id?: number }) => {
    if (message.type === 'write') Object.values(cluster.workers ?? {})[0]?.send(message);
    if (message.type !== 'stop') return;
    void (async () => {
      const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
      const exited = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
      for (const w of workers) w.send({ type: 'stop' });
      await Promise.all(exited);
      await relay?.stop();
      report({ type: 'stopped' });
      process.disconnect();
    })();
  });
  // The parent went away (a failed test): take the workers down too.
  process.on('disconnect', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
  });
}

async function worker(): Promise<void> {
  const knex = knexFactory({ client: 'pg', connection: settings.url, pool: { min: 0, max: 2 } });
  const products = recorder('product', {
    onCall: (call) => {
      if (call.kind === 'refresh') process.send?.({ type: 'applied', ids: call.ids, at: performance.timeOrigin + performance.now() });
    },
  });
  const cache = new DistributedCache({
    knex,
    tablePrefix: settings.prefix,
    refreshers: [products],
    syncInterval: 60_000,
    pruneSchedule: false,
    logger: silentLogger,
    notify: settings.mode === 'relay' ? 'relay' : true,
  });
  process.on('message', (message: { type?: string; id?: number }) => {
    if (message.type === 'write') void cache.refresh('product', [message.id!]);
    if (message.type !== 'stop') return;
    void (async () => {
      await cache.stop();
      await knex.destroy();
      process.disconnect();
    })();
  });
  await cache.start();
  process.send?.({ type: 'ready' });
}
