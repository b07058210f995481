import assert from 'node:assert/strict';
import { test } from 'node:test';
import { harness } from '../conformance/harness.js';
import { recorder } from '../support/recorder.js';
import { waitFor } from '../support/wait.js';
import { Rollback, type ClientSpec } from './clients.js';

/**
 * Every executor against its real library, one test per client spec (call inside a describe per
 * database): a committed write reaches the writer (at commit inside cache.transaction(), from the
 * log without it) and another server, once each; a rolled-back write reaches none. The root's
 * drivers run it from test/executors.test.ts, the ORMs from test/orms/executors.test.ts.
 */
export function clientTests(clients: readonly ClientSpec[]): void {
  for (const spec of clients) {
    test(`${spec.name}: committed reaches the writer and another server, rolled back reaches none`, async (t) => {
      const h = await harness(t, spec.dialect);
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
        rows.map((r: { json_instruction: string; origin_instance: string | null }) => [JSON.parse(r.json_instruction), r.origin_instance]),
        [
          [{ v: 1, instructions: [{ refresher: 'product', kind: 'refresh', ids: ['c1'] }] }, writer.instanceId],
          [{ v: 1, instructions: [{ refresher: 'product', kind: 'refresh', ids: ['c2'] }] }, spec.commitHook ? writer.instanceId : null],
        ],
      );
    });
  }
}
