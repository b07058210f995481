import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { harness } from './conformance/harness.js';
import { recorder } from './support/recorder.js';
import { waitFor } from './support/wait.js';
import { availability, selectedDialects } from './support/databases.js';
import { CLIENTS, Rollback } from './executors/clients.js';
import { errors } from '../src/index.js';
import { pgExecutor } from '../src/executors/index.js';

/**
 * Every executor against its real library on every database it supports here: a committed write
 * reaches the writer (at commit inside cache.transaction(), from the log without it) and another
 * server, once each; a rolled-back write reaches none.
 */
for (const dialect of selectedDialects()) {
  describe(`executors on ${dialect}`, { skip: await availability(dialect) }, () => {
    for (const spec of CLIENTS.filter((c) => c.dialect === dialect)) {
      test(`${spec.name}: committed reaches the writer and another server, rolled back reaches none`, async (t) => {
        const h = await harness(t, dialect);
        const local = recorder();
        const remote = recorder();
        const writer = h.cache({ serverIdentity: 'writer', refreshers: [local] });
        const other = h.cache({ serverIdentity: 'other', refreshers: [remote], knex: h.connection() });
        await writer.start();
        await other.start();
        const file = (h.knex.client.config as { connection?: { filename?: string } }).connection?.filename;
        const client = spec.open(file);
        t.after(() => client.close());

        // Inside cache.transaction(): applied here by the time it resolves.
        await client.write(writer, 'c1', { rollback: false, wrapped: true });
        assert.deepEqual(local.refreshedIds(), ['c1']);
        await assert.rejects(client.write(writer, 'r1', { rollback: true, wrapped: true }), Rollback);
        // Without it, a library's own commit hook applies it here; with none, nothing tells a commit
        // from a rollback: the row has no origin instance and the writer reads it from the log.
        await client.write(writer, 'c2', { rollback: false, wrapped: false });
        await assert.rejects(client.write(writer, 'r2', { rollback: true, wrapped: false }), Rollback);
        if (spec.commitHook) await waitFor(() => local.refreshedIds().length === 2, { describe: () => JSON.stringify(local.calls) });
        // (PostgreSQL's in-transaction NOTIFY may already have woken the writer's poller for c2.)
        else
          assert.deepEqual(
            local.refreshedIds().filter((id) => id !== 'c2'),
            ['c1'],
          );

        await writer.sync();
        await other.sync();
        assert.deepEqual(local.refreshedIds(), ['c1', 'c2']);
        assert.deepEqual(remote.refreshedIds(), ['c1', 'c2']);
        const rows = await h.knex(h.table('cache_instruction')).select('json_instruction', 'origin_instance').orderBy('id');
        assert.deepEqual(
          rows.map((r: { json_instruction: string; origin_instance: string | null }) => [
            JSON.parse(r.json_instruction),
            r.origin_instance,
          ]),
          [
            [{ v: 1, instructions: [{ refresher: 'product', kind: 'refresh', ids: ['c1'] }] }, writer.instanceId],
            [{ v: 1, instructions: [{ refresher: 'product', kind: 'refresh', ids: ['c2'] }] }, spec.commitHook ? writer.instanceId : null],
          ],
        );
      });
    }

    test('a knex transaction made without a handler and ended by trx.rollback() is applied nowhere; its commit is', async (t) => {
      const h = await harness(t, dialect);
      const local = recorder();
      const writer = h.cache({ serverIdentity: 'writer', refreshers: [local] });
      await writer.start();
      // knex resolves such a transaction's promise on a plain rollback() as on a commit.
      const rolled = await h.knex.transaction();
      await writer.refresh('product', ['r1'], { trx: rolled });
      await rolled.rollback();
      const kept = await h.knex.transaction();
      await writer.refresh('product', ['c1'], { trx: kept });
      await kept.commit();
      await waitFor(() => local.refreshedIds().length > 0);
      await writer.sync();
      assert.deepEqual(local.refreshedIds(), ['c1']);
    });

    test('an executor of another database is refused with E_INVALID_OPTION', async (t) => {
      const h = await harness(t, dialect);
      const cache = h.cache({ serverIdentity: 'w', refreshers: [recorder()] });
      const wrong =
        dialect === 'postgres' ? { dialect: 'mysql' as const, query: () => [] } : pgExecutor({ query: async () => ({ rows: [] }) });
      await assert.rejects(
        cache.refresh('product', [1], { trx: wrong }),
        (err: unknown) => err instanceof errors.InvalidOptionError && /executor writes to/.test(String(err)),
      );
      assert.throws(
        () => cache.refreshSync('product', [1], { trx: { dialect, query: () => Promise.resolve([]) } as never }),
        /synchronous executor|executor writes to/,
      );
    });
  });
}
