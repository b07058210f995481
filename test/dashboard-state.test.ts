import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admin } from '../src/admin/admin.js';
import { ACTIONS_KEPT } from '../src/admin/actions.js';
import { DistributedCache } from '../src/index.js';
import { silentLogger } from '../src/logger.js';
import { migrationConfig, resolveTables } from '../src/migrations/migrate.js';
import { cli, cliDatabase } from './support/cli-run.js';
import { availability, dropPrefixed, selectedDialects } from './support/databases.js';
import { recorder } from './support/recorder.js';
import { waitFor } from './support/wait.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/**
 * What the dashboard shows of every server and every operator comes from the database, not from
 * the process serving the page (issue 26, migration 010): each server's wake-up state, published
 * with its heartbeat, and each action with who ran it.
 */
for (const dialect of selectedDialects()) {
  test(
    `${dialect}: every server publishes its wake-up state; actions are recorded with who ran them, failed ones not`,
    { skip: await availability(dialect) },
    async (t) => {
      const db = await cliDatabase(dialect);
      t.after(() => db.close());
      const quiet = await db.server('quiet-1', [recorder('product')], { notify: false, heartbeatInterval: 200 });
      const awake = await db.server('awake-1', [recorder('product')], { notify: true, heartbeatInterval: 200 });
      const admin = new Admin({ knex: db.knex, tablePrefix: db.prefix });
      await waitFor(
        async () => {
          const { servers } = await admin.servers();
          const published = (id: string) => servers.find((s) => s.identity === id)?.wakeUp;
          return (
            published('quiet-1') === (await quiet.health()).wakeUp &&
            published('awake-1') === (await awake.health()).wakeUp &&
            published('awake-1') !== 'connecting'
          );
        },
        { timeout: 15_000, interval: 100, describe: () => 'both servers publishing the wake-up state their health() reports' },
      );
      const { servers } = await admin.servers();
      assert.equal(servers.find((s) => s.identity === 'quiet-1')?.wakeUp, 'disabled');
      // MariaDB has no wake-up: notify: true is 'disabled' there too.
      assert.equal(servers.find((s) => s.identity === 'awake-1')?.wakeUp, dialect === 'mysql' ? 'disabled' : 'on');

      await admin.resync('quiet-1', { originated: 'dashboard:alice@ops-host' });
      await admin.resyncAll();
      await admin.prune({}, undefined, { originated: 'cli:bob@laptop' });
      await assert.rejects(admin.resync('nobody', { originated: 'dashboard:mallory@x' }), /E_UNKNOWN_SERVER|no server 'nobody'/);
      const actions = await admin.actions();
      assert.deepEqual(
        actions.map((a) => [a.action, a.server, a.originated]),
        [
          ['prune', null, 'cli:bob@laptop'],
          ['resync-all', null, actions[1]!.originated],
          ['resync', 'quiet-1', 'dashboard:alice@ops-host'],
        ],
        'newest first; the failed resync changed nothing and is not recorded',
      );
      assert.match(actions[1]!.originated, /^admin:.+@.+/, 'the Admin API names itself by default');
      assert.ok(actions.every((a) => a.at !== null && Date.parse(a.at) > Date.now() - 600_000));
      assert.deepEqual(actions[2]!.result, { server: 'quiet-1', alreadyRequested: false, active: true });

      // The CLI shows them, and records its own with cli:<user>@<host>.
      assert.equal((await cli(['resync', 'awake-1', ...db.flags])).code, 0);
      const listed = await cli(['actions', '--limit', '2', ...db.flags]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /resync\s+awake-1\s+cli:\S+@\S+/);
      assert.match(listed.stdout, /prune\s+-\s+cli:bob@laptop/);
      assert.doesNotMatch(listed.stdout, /alice/, '--limit 2 shows the newest two');

      // Bounded: a script acting in a loop leaves the newest ACTIONS_KEPT rows.
      const table = `${db.prefix}cache_action`;
      const filler = Array.from({ length: ACTIONS_KEPT }, () => ({ cluster: 'default', action: 'resync-all', originated: 'filler' }));
      for (let i = 0; i < filler.length; i += 100) await db.knex(table).insert(filler.slice(i, i + 100));
      await admin.resyncAll({ originated: 'last' });
      const counted = (await db.knex(table).count({ n: '*' })) as Array<{ n: number | string }>;
      assert.equal(Number(counted[0]!.n), ACTIONS_KEPT);
      assert.equal((await admin.actions({ limit: 1 }))[0]!.originated, 'last');
    },
  );
}

test('sqlite: on a schema before migration 010 servers still heartbeat, actions still run, and none are listed', async (t) => {
  const db = await cliDatabase('sqlite');
  // Migrated with every migration but 010: a fresh prefix on the same database, stepped up to 009.
  const prefix = `${db.prefix}old_`;
  const config = migrationConfig(db.knex, resolveTables(prefix));
  for (;;) {
    const [, ran] = (await db.knex.migrate.up(config)) as [number, string[]];
    if (ran.length === 0 || ran[0] === '009_replica_tick') break;
  }
  assert.equal(await db.knex.schema.hasColumn(`${prefix}cache_server`, 'wake_up'), false);
  const cache = new DistributedCache({
    knex: db.knex,
    tablePrefix: prefix,
    serverIdentity: 'old-1',
    refreshers: [recorder('product')],
    syncInterval: 60_000,
    heartbeatInterval: 100,
    pruneSchedule: false,
    logger: silentLogger,
  });
  t.after(async () => {
    await cache.stop();
    await dropPrefixed(db.knex, prefix);
    await db.close();
  });
  await cache.start();
  await cache.sync();
  const admin = new Admin({ knex: db.knex, tablePrefix: prefix });
  const beats = async () => (await admin.servers()).servers.find((s) => s.identity === 'old-1')?.lastHeartbeat;
  const first = await beats();
  await waitFor(async () => (await beats()) !== first, { timeout: 10_000, describe: () => 'a second heartbeat' });
  assert.equal((await admin.servers()).servers[0]!.wakeUp, null);
  assert.equal((await admin.resync('old-1')).server, 'old-1');
  assert.deepEqual(await admin.actions(), []);
  assert.equal((await cache.health()).lastError, null);
});
