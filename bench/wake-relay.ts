/**
 * One LISTEN per host against one LISTEN per process (docs/scaling.md, "One LISTEN per host"):
 * two `cluster` applications of 4 workers on one machine, one relaying the wake-up from its
 * primary (clusterWakeRelay, notify: 'relay'), one whose workers LISTEN themselves, on the same
 * tables, so every write wakes both at once (the two paths interleaved in one run). Workers poll
 * once a minute, so only the wake-up delivers. Reports the LISTEN sessions each holds and the
 * delivery latency from the write call to each worker's refresher, p50/p99.
 *
 *     DATABASE_URL=postgres://... node dist/bench/wake-relay.js [writes=200]
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import { DistributedCache, migrate } from '../src/index.js';
import { silentLogger } from '../src/logger.js';
import { dropPrefixed, freshPrefix, PG_URL } from '../test/support/databases.js';
import { recorder } from '../test/support/recorder.js';
import type { RelayClusterReport, RelayClusterSettings } from '../test/support/relay-cluster.js';
import { waitFor } from '../test/support/wait.js';
import { ms, percentile } from './lib/stats.js';

const CHILD = fileURLToPath(new URL('../test/support/relay-cluster.js', import.meta.url));
const WORKERS = 4;
const writes = Number(process.argv[2] ?? 200);

function startCluster(settings: RelayClusterSettings) {
  const child = fork(CHILD, [JSON.stringify(settings)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const reports: RelayClusterReport[] = [];
  child.on('message', (m: RelayClusterReport) => reports.push(m));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    reports,
    ready: () => waitFor(() => reports.some((r) => r.type === 'ready'), { timeout: 30_000 }),
    /** When each worker applied `id`. */
    appliedAt: (id: number) => reports.flatMap((r) => (r.type === 'applied' && r.ids.includes(id) ? [r.at] : [])),
    stop: async () => (child.send({ type: 'stop' }), await exited),
  };
}

async function listenerSessions(knex: Knex): Promise<number> {
  const { rows } = await knex.raw<{ rows: Array<{ n: string }> }>(
    "select count(*) as n from pg_stat_activity where datname = current_database() and application_name = 'distcache listener'",
  );
  return Number(rows[0]!.n);
}

const knex = knexFactory({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 4 } });
const prefix = freshPrefix();
await migrate(knex, { tablePrefix: prefix });
const writer = new DistributedCache({
  knex,
  tablePrefix: prefix,
  refreshers: [recorder()],
  notify: `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}application_name=distcache%20writer`,
  syncInterval: 60_000,
  pruneSchedule: false,
  logger: silentLogger,
});
await writer.start();
const relay = startCluster({ url: PG_URL, prefix, workers: WORKERS, mode: 'relay' });
await relay.ready();
const relaySessions = await listenerSessions(knex);
const own = startCluster({ url: PG_URL, prefix, workers: WORKERS, mode: 'own' });
await own.ready();
const ownSessions = (await listenerSessions(knex)) - relaySessions;
const latency = { relay: [] as number[], own: [] as number[] };
for (let id = 1; id <= writes; id++) {
  const t0 = performance.timeOrigin + performance.now();
  await writer.refresh('product', [id]);
  await waitFor(() => relay.appliedAt(id).length === WORKERS && own.appliedAt(id).length === WORKERS, { timeout: 10_000, interval: 1 });
  latency.relay.push(...relay.appliedAt(id).map((at) => at - t0));
  latency.own.push(...own.appliedAt(id).map((at) => at - t0));
}
await Promise.all([relay.stop(), own.stop()]);
await writer.stop();
const left = await listenerSessions(knex);
await dropPrefixed(knex, prefix);
await knex.destroy();
console.log(`${writes} writes, ${WORKERS} workers each way, delivery from the write call to each worker's refresher:`);
console.log('| wake-up | LISTEN sessions on the primary | delivery p50 | p99 |');
console.log('|---|---|---|---|');
for (const [name, sessions, values] of [
  ['relayed by the cluster primary', relaySessions, latency.relay],
  ['each worker LISTENs', ownSessions, latency.own],
] as const)
  console.log(`| ${name} | ${sessions} | ${ms(percentile(values, 50))} | ${ms(percentile(values, 99))} |`);
console.log(`LISTEN sessions left after stop: ${left}`);
