import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import knexFactory, { type Knex } from 'knex';
import { DistributedCache, errors, migrate } from '../src/index.js';
import { clusterWakeRelay } from '../src/integrations/cluster.js';
import { silentLogger } from '../src/logger.js';
import { availability, dropPrefixed, freshPrefix, PG_URL } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { recorder } from './support/recorder.js';
import type { RelayClusterReport, RelayClusterSettings } from './support/relay-cluster.js';
import { waitFor } from './support/wait.js';

checkLeaksAfterEach();

const skip = await availability('postgres');
const CHILD = fileURLToPath(new URL('./support/relay-cluster.js', import.meta.url));

/** A `cluster` application in its own process, and what its workers reported. */
function startCluster(settings: RelayClusterSettings) {
  const child: ChildProcess = fork(CHILD, [JSON.stringify(settings)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const reports: RelayClusterReport[] = [];
  child.on('message', (m: RelayClusterReport) => reports.push(m));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    reports,
    applied: (worker: number) => reports.flatMap((r) => (r.type === 'applied' && r.worker === worker ? r.ids.map(String) : [])),
    workers: () => [...new Set(reports.flatMap((r) => (r.type === 'applied' ? [r.worker] : [])))],
    async stop() {
      child.send({ type: 'stop' });
      await exited;
    },
    write: (id: number) => child.send({ type: 'write', id }),
    kill: () => child.kill('SIGKILL'),
  };
}

/** This database's LISTEN sessions by application_name: the relay's and the workers' are 'distcache listener'. */
async function listenerSessions(knex: Knex): Promise<number> {
  const { rows } = await knex.raw<{ rows: Array<{ n: string }> }>(
    "select count(*) as n from pg_stat_activity where datname = current_database() and application_name = 'distcache listener'",
  );
  return Number(rows[0]!.n);
}

describe('one LISTEN per host: a cluster primary relays wake-ups to its workers over IPC', { skip }, () => {
  test('3 workers polling once a minute each apply every write within seconds, through one LISTEN session; none after stop', async (t) => {
    const knex = knexFactory({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 4 } });
    const prefix = freshPrefix();
    await migrate(knex, { tablePrefix: prefix });
    // The writer is another process than the cluster; its own listener is told apart by name.
    const writerUrl = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}application_name=distcache%20writer`;
    const writerRefresher = recorder();
    const writer = new DistributedCache({
      knex,
      tablePrefix: prefix,
      refreshers: [writerRefresher],
      notify: writerUrl,
      syncInterval: 60_000,
      pruneSchedule: false,
      logger: silentLogger,
    });
    await writer.start();
    // Other clients of this database (another suite, a bench) may hold listeners of their own: counted
    // before the cluster starts, they are the baseline.
    const others = await listenerSessions(knex);
    const app = startCluster({ url: PG_URL, prefix, workers: 3, mode: 'relay' });
    t.after(() => app.kill());
    try {
      await waitFor(() => app.reports.some((r) => r.type === 'ready'), { timeout: 30_000, describe: () => JSON.stringify(app.reports) });
      assert.equal(await listenerSessions(knex), others + 1, 'the host holds one LISTEN session, the relay: the workers hold none');
      const ids = ['1', '2', '3', '4', '5'];
      for (const id of ids) {
        await writer.refresh('product', [Number(id)]);
        // Each write separately: a wake-up per commit reaches every worker, well before their 60 s poll.
        await waitFor(() => app.workers().length === 3 && app.workers().every((w) => app.applied(w).includes(id)), {
          timeout: 10_000,
          describe: () => `id ${id}; applied by worker: ${JSON.stringify(app.workers().map((w) => [w, app.applied(w)]))}`,
        });
      }
      // A worker's own write: over IPC to the primary, which wakes the other workers and NOTIFYs other hosts.
      app.write(6);
      await waitFor(() => app.workers().every((w) => app.applied(w).includes('6')) && writerRefresher.refreshedIds().includes(6), {
        timeout: 10_000,
        describe: () =>
          `applied by worker: ${JSON.stringify(app.workers().map((w) => [w, app.applied(w)]))}; writer: ${writerRefresher.refreshedIds()}`,
      });
      assert.equal(await listenerSessions(knex), others + 1, 'still one LISTEN session after the writes');
      await app.stop();
      await waitFor(async () => (await listenerSessions(knex)) === others, {
        timeout: 10_000,
        describe: () => 'the relay left its LISTEN session behind',
      });
    } finally {
      await writer.stop();
      await dropPrefixed(knex, prefix);
      await knex.destroy();
    }
  });

  test('the relay refuses unclear or unusable settings with E_INVALID_OPTION', async () => {
    const knex = knexFactory({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 1 } });
    try {
      await assert.rejects(
        clusterWakeRelay.primary({ knex, connection: PG_URL }),
        (err: Error) => err instanceof errors.InvalidOptionError,
      );
      await assert.rejects(clusterWakeRelay.primary({}), /pass either knex or connection/);
      await assert.rejects(clusterWakeRelay.primary({ connection: 'mysql://root@127.0.0.1/x' }), /needs PostgreSQL/);
      await assert.rejects(clusterWakeRelay.primary({ knex, tablePrefix: 'a;drop' }), /tablePrefix/);
    } finally {
      await knex.destroy();
    }
  });
});
