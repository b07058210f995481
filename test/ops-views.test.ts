import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { harness } from './conformance/harness.js';
import { availability, selectedDialects } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { cli } from './support/cli-run.js';
import { Admin } from '../src/admin/index.js';
import { STOPPED_FORGET_MS } from '../src/cluster/server-table.js';

/**
 * Issue 24: ops views that tell the truth. A clean stop() marks the server 'stopped'; `status`
 * and `servers` leave such servers out unless asked (`--all`), saying how many they hid, and the
 * prune forgets them after an hour (STOPPED_FORGET_MS), not forgetServersAfter's 7 days. A server
 * that went silent is not 'stopped': it stays listed, as a problem to look at.
 */
checkLeaksAfterEach();

for (const dialect of selectedDialects()) {
  describe(`ops views on ${dialect}`, { skip: await availability(dialect) }, () => {
    test('a clean stop is hidden from status and servers unless --all, and forgotten within an hour', async (t) => {
      const h = await harness(t, dialect);
      const live = h.cache({ serverIdentity: 'web-1', syncInterval: 60_000 });
      const leaving = h.cache({ serverIdentity: 'web-2', syncInterval: 60_000 });
      await live.start();
      await leaving.start();
      await leaving.stop();

      const admin = new Admin({ knex: h.knex, tablePrefix: h.prefix });
      const shown = await admin.servers();
      assert.deepEqual(
        shown.servers.map((s) => s.identity),
        ['web-1'],
      );
      assert.equal(shown.hiddenStopped, 1);
      const all = await admin.servers({ all: true });
      assert.deepEqual(
        all.servers.map((s) => [s.identity, s.role, s.active]),
        [
          ['web-1', 'single', true],
          ['web-2', 'stopped', false],
        ],
      );
      const status = await admin.status();
      assert.deepEqual(
        status.servers.map((s) => s.identity),
        ['web-1'],
      );
      assert.equal(status.hiddenStopped, 1);

      if (dialect === 'sqlite') {
        // The CLI says what it hid and how to see it.
        const file = (h.knex.client.config as { connection: { filename: string } }).connection.filename;
        const flags = ['--db', `sqlite://${file}`, '--prefix', h.prefix];
        const listed = await cli(['servers', ...flags]);
        assert.equal(listed.code, 0, listed.stderr);
        assert.match(listed.stdout, /1 server that stopped cleanly not shown; --all lists them/);
        assert.doesNotMatch(listed.stdout, /web-2/);
        assert.match((await cli(['servers', '--all', ...flags])).stdout, /web-2 .*stopped/);
        assert.match((await cli(['status', ...flags])).stdout, /1 server that stopped cleanly not shown/);
      }

      // A crashed server (silent, never stopped) an hour and a half ago stays until forgetServersAfter;
      // the stopped one goes at the next prune.
      const server = `${h.prefix}cache_server`;
      await h.knex(server).insert({ ...(await h.knex(server).where('server_identity', 'web-2').first()), server_identity: 'web-3' });
      await h.knex(server).where('server_identity', 'web-3').update({ role: 'subscriber' });
      const past = new Date(Date.now() - STOPPED_FORGET_MS * 1.5);
      const stamp = dialect === 'sqlite' ? past.toISOString() : past;
      await h.knex(server).whereIn('server_identity', ['web-2', 'web-3']).update({ last_heartbeat: stamp });
      await live.prune();
      assert.deepEqual(
        (await admin.servers({ all: true })).servers.map((s) => s.identity),
        ['web-1', 'web-3'],
      );
    });
  });
}
