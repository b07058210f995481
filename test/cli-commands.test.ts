import assert from 'node:assert/strict';
import { test } from 'node:test';
import knexFactory from 'knex';
import { readOnlyConfig } from '../src/cli/connection.js';
import { knexConfigFromUrl } from '../src/index.js';
import { coalesce } from '../src/instructions/coalesce.js';
import type { Instruction } from '../src/instructions/types.js';
import { availability, selectedDialects } from './support/databases.js';
import { cli, cliDatabase, cliJson } from './support/cli-run.js';
import * as shape from './support/cli-shapes.js';
import { recorder, type Call } from './support/recorder.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/** A recorded call as an instruction, to compare with what `pending` listed. */
function asInstruction(refresher: string, call: Call): Instruction {
  switch (call.kind) {
    case 'refresh-all':
      return { refresher, kind: 'refresh-all' };
    case 'payload':
      return { refresher, kind: 'payload', payloads: call.payloads };
    default:
      return { refresher, kind: call.kind, ids: call.ids };
  }
}

for (const dialect of selectedDialects()) {
  test(
    `CLI on ${dialect}: every command's --json matches its documented shape; pending agrees with what the server applies; ` +
      `resync cold-boots it`,
    { skip: await availability(dialect) },
    async (t) => {
      const db = await cliDatabase(dialect);
      t.after(() => db.close());
      const product = recorder('product');
      const member = recorder('member');
      const price = recorder('price');
      const web1 = await db.server('web-1', [product, member, price]);

      // Nothing written yet: every read command works on an empty log.
      const empty = shape.shaped(shape.status, await cliJson(['status', ...db.flags]), 'status');
      assert.equal(empty.log.rows, 0);
      assert.deepEqual(empty.schema.pending, []);
      assert.equal(empty.publisher?.identity, 'web-1', 'a lone server holds the lease and shows as publisher');
      const one = empty.servers.find((s) => s.identity === 'web-1')!;
      assert.equal(one.role, 'single');
      assert.equal(one.publisher, true);
      assert.deepEqual(one.refreshers, ['member', 'price', 'product']);

      // Writes by hand, from a CLI origin.
      const sent = [
        await cliJson(['send', 'refresh', 'product', '1', '2', '3', ...db.flags]),
        await cliJson(['send', 'remove', 'product', '--string-ids', '4', 'sku-7', ...db.flags]),
        await cliJson(['send', 'refresh-all', 'member', ...db.flags]),
        await cliJson(['send', 'payload', 'price', '--payload', '{"id":42,"price":10}', '--payload', '7', ...db.flags]),
      ].map((s, n) => shape.shaped(shape.send, s, `send #${n + 1}`));
      assert.deepEqual(
        sent.map((s) => [s.kind, s.instructions, s.rowIds.length, s.verified]),
        [
          ['refresh', 3, 1, true],
          ['remove', 2, 1, true],
          ['refresh-all', 1, 1, true],
          ['payload', 2, 1, true],
        ],
      );
      for (const s of sent) assert.match(s.originated, /^cli:[^@]+@.+$/, 'the CLI labels its rows cli:<user>@<host>');

      // pending lists exactly what web-1 then applies, in its order.
      const overview = shape.shaped(shape.pendingOverview, await cliJson(['pending', ...db.flags]), 'pending');
      assert.equal(overview.servers.find((s) => s.identity === 'web-1')?.pendingRows, 4);
      const pending = shape.shaped(shape.serverPending, await cliJson(['pending', '--server', 'web-1', ...db.flags]), 'pending --server');
      assert.equal(pending.pendingRows, 4);
      assert.equal(pending.pendingInstructions, 8);
      assert.equal(pending.truncated, false);
      assert.deepEqual(
        pending.rows.map((r) => r.id),
        sent.flatMap((s) => s.rowIds),
      );
      assert.ok(pending.rows.every((r) => r.originated === sent[0]!.originated && r.originInstance === null && !r.appliedAtWrite));
      const limited = shape.shaped(
        shape.serverPending,
        await cliJson(['pending', '--server', 'web-1', '--limit', '2', ...db.flags]),
        'pending --limit',
      );
      assert.equal(limited.rows.length, 2);
      assert.equal(limited.truncated, true);

      const result = await web1.sync();
      assert.equal(result.rows, pending.pendingRows, 'the server read as many rows as pending listed');
      const listed = coalesce(
        pending.rows.flatMap(
          (r) =>
            r.instructions!.map((i) =>
              i.kind === 'refresh-all'
                ? { refresher: i.refresher, kind: i.kind }
                : i.kind === 'payload'
                  ? { refresher: i.refresher, kind: i.kind, payloads: i.payloads! }
                  : { refresher: i.refresher, kind: i.kind, ids: i.ids! },
            ) as Instruction[],
        ),
      );
      const applied = [product, member, price].flatMap((r) => r.calls.map((c) => asInstruction(r.id, c)));
      const key = (i: Instruction) => JSON.stringify(i);
      assert.deepEqual(applied.map(key).sort(), listed.map(key).sort(), 'the refreshers received exactly the pending instructions');
      const after = shape.shaped(shape.serverPending, await cliJson(['pending', '--server', 'web-1', ...db.flags]), 'pending after sync');
      assert.equal(after.pendingRows, 0);
      assert.deepEqual(after.rows, []);

      // show and tail decode the same rows.
      const shown = shape.shaped(shape.fullRow, await cliJson(['show', String(sent[3]!.rowIds[0]), ...db.flags]), 'show');
      assert.deepEqual(shown.instructions?.[0]?.payloads, [{ id: 42, price: 10 }, 7]);
      assert.equal(JSON.parse(shown.json).v, 1);
      const tail = shape.shaped(shape.tail, await cliJson(['tail', '--limit', '3', ...db.flags]), 'tail');
      assert.deepEqual(
        tail.rows.map((r) => r.id),
        sent.slice(1).flatMap((s) => s.rowIds),
        'the newest three, oldest first',
      );

      // A refresher that fails is recorded; failures shows it.
      const flaky = recorder('flaky', {
        onCall: (call) => {
          if (call.kind === 'refresh') throw new Error('flaky refresh failed');
        },
      });
      const web2 = await db.server('web-2', [flaky, recorder('product')], { refresherRetries: 0 });
      await web2.sync();
      const flakyRow = shape.shaped(shape.send, await cliJson(['send', 'refresh', 'flaky', '9', ...db.flags]), 'send flaky');
      await web2.sync();
      const failures = shape.shaped(shape.failures, await cliJson(['failures', ...db.flags]), 'failures');
      assert.equal(failures.total, 1);
      assert.deepEqual(
        failures.failures.map((f) => [f.server, f.rowId, f.refresher, f.kind, f.action]),
        [['web-2', flakyRow.rowIds[0], 'flaky', 'refresh', 'fell-back-to-refresh-all']],
      );
      const forWeb1 = shape.shaped(shape.failures, await cliJson(['failures', '--server', 'web-1', ...db.flags]), 'failures --server');
      assert.deepEqual(forWeb1.failures, []);

      // servers: both registered, web-1 the publisher.
      const listing = shape.shaped(shape.servers, await cliJson(['servers', ...db.flags]), 'servers');
      assert.deepEqual(
        listing.servers.map((s) => s.identity),
        ['web-1', 'web-2'],
      );
      assert.equal(listing.publisher?.identity, listing.servers.find((s) => s.publisher)?.identity);

      // resync: the flag shows in status, and the next poll is a cold boot.
      const before = product.calls.length;
      const resync = shape.shaped(shape.resync, await cliJson(['resync', 'web-1', ...db.flags]), 'resync');
      assert.deepEqual(resync, { server: 'web-1', alreadyRequested: false, active: true });
      const flagged = shape.shaped(shape.status, await cliJson(['status', ...db.flags]), 'status');
      assert.equal(flagged.servers.find((s) => s.identity === 'web-1')?.cursor?.coldBootRequested, true);
      const boot = await web1.sync();
      assert.equal(boot.coldBoot, 'requested');
      assert.deepEqual(product.calls.slice(before), [{ kind: 'refresh-all' }], 'the cold boot refreshed everything');
      assert.equal(member.calls.at(-1)?.kind, 'refresh-all');

      // resync --all: every cursor of the cluster is flagged; each server cold-boots at its next poll.
      const all = shape.shaped(shape.resyncAll, await cliJson(['resync', '--all', ...db.flags]), 'resync --all');
      assert.deepEqual(all, { all: true, flagged: 2, servers: ['web-1', 'web-2'] });
      assert.equal((await web1.sync()).coldBoot, 'requested');
      assert.equal((await web2.sync()).coldBoot, 'requested');
      const both = await cli(['resync', 'web-1', '--all', ...db.flags]);
      assert.equal(both.code, 2, both.stderr);
      assert.match(both.stderr, /either SERVER or --all/);
      // Both resyncs are recorded with who ran them; the refused third is not.
      const actions = shape.shaped(shape.actions, await cliJson(['actions', ...db.flags]), 'actions');
      assert.deepEqual(
        actions.actions.map((a) => [a.action, a.server]),
        [
          ['resync-all', null],
          ['resync', 'web-1'],
        ],
      );
      assert.ok(actions.actions.every((a) => /^cli:.+@.+/.test(a.originated)));

      // servers forget: refused while it heartbeats, done once it stopped.
      const refused = await cli(['servers', 'forget', 'web-2', ...db.flags]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /web-2' is active.*--force/);
      await web2.stop();
      const forgot = shape.shaped(shape.forget, await cliJson(['servers', 'forget', 'web-2', ...db.flags]), 'servers forget');
      assert.deepEqual(forgot, { server: 'web-2', registration: true, cursor: true });
      const remaining = shape.shaped(shape.servers, await cliJson(['servers', ...db.flags]), 'servers');
      assert.deepEqual(
        remaining.servers.map((s) => s.identity),
        ['web-1'],
      );

      // migrate on a current schema applies nothing; its plan is empty.
      assert.deepEqual(shape.shaped(shape.migrate, await cliJson(['migrate', ...db.flags]), 'migrate').applied, []);
      if (dialect !== 'mysql')
        assert.deepEqual(
          shape.shaped(shape.migratePlan, await cliJson(['migrate', '--dry-run', ...db.flags]), 'migrate --dry-run').statements,
          [],
        );

      // Human output of the main read commands, at a glance.
      const human = await cli(['status', ...db.flags]);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /scheduling publisher: web-1/);
      assert.match(human.stdout, /SERVER\s+ROLE\s+ACTIVE\s+HEARTBEAT\s+CURSOR\s+PENDING\s+LAG\s+LAST ERROR/);
    },
  );

  test(
    `CLI on ${dialect}: read-only commands change nothing, and their sessions cannot write`,
    { skip: await availability(dialect) },
    async (t) => {
      const db = await cliDatabase(dialect);
      t.after(() => db.close());
      const web1 = await db.server('web-1', [recorder('product')]);
      await cliJson(['send', 'refresh', 'product', '1', ...db.flags]);
      await web1.sync();
      await cliJson(['send', 'refresh', 'product', '2', ...db.flags]);
      // Stopped, so its heartbeats do not change the tables while we compare them.
      await web1.stop();
      const before = await db.snapshot();
      const reads = [
        ['status'],
        ['servers'],
        ['pending'],
        ['pending', '--server', 'web-1'],
        ['show', '1'],
        ['tail'],
        ['failures'],
        ['actions'],
        ['prune', '--dry-run', '--retention', '1s', '--max-retention', '1s'],
        ...(dialect === 'mysql' ? [] : [['migrate', '--dry-run']]),
      ];
      for (const args of reads) {
        for (const json of [[], ['--json']]) {
          const result = await cli([...args, ...json, ...db.flags]);
          assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
        }
      }
      assert.equal(await db.snapshot(), before, 'no read command changed any table');

      // And the database itself refuses a write on the connections read commands use.
      // One connection, so the session-state check below looks at the session the reads used.
      const config = readOnlyConfig({ ...knexConfigFromUrl(db.url), pool: { min: 0, max: 1 } }, 5000);
      const readOnly = knexFactory({ ...config, log: { warn() {}, error() {}, debug() {}, deprecate() {} } });
      try {
        const row = { json_instruction: '{"v":1,"instructions":[]}', originated: 'test', instruction_count: 0 };
        assert.equal((await readOnly(`${db.prefix}cache_instruction`).count({ n: '*' }))[0]!.n == 2, true, 'it reads');
        await assert.rejects(readOnly(`${db.prefix}cache_instruction`).insert(row), /read.?only|readonly/i);
        // A transaction the caller opens is read-only too.
        await assert.rejects(
          readOnly.transaction((trx) => trx(`${db.prefix}cache_instruction`).insert(row)),
          /read.?only|readonly/i,
        );
        // Per transaction, never per session (issue 16): a pooler hands the session to the application next.
        if (dialect === 'postgres') {
          const { rows } = (await readOnly.raw('show default_transaction_read_only')) as { rows: Array<Record<string, string>> };
          assert.equal(rows[0]!.default_transaction_read_only, 'off', 'the session default stays read-write');
        }
        if (dialect === 'mysql') {
          const [rows] = (await readOnly.raw('select @@session.tx_read_only as v')) as [Array<{ v: number | string }>];
          assert.equal(Number(rows[0]!.v), 0, 'the session default stays read-write');
        }
      } finally {
        await readOnly.destroy();
      }
      assert.equal(await db.snapshot(), before);
    },
  );
}
