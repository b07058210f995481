/**
 * MySQL's and SQLite's reader learn a page's rows and sizes in one statement and fetch the bodies
 * of large rows in a second (store/commit-ordered-store.ts). A prune that commits between the two
 * removes a row the page listed: the page ends before it, and the prune has marked the server's
 * cursor, so its next poll cold-boots. Made to happen for real: the body statement's 'query' event
 * holds this thread while a worker's real pruneChunk commits.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { backdate, harness, rowIds } from '../conformance/harness.js';
import type { DialectName } from '../support/databases.js';
import { recorder } from '../support/recorder.js';
import type { PruneWorkerData } from './prune-mid-page-worker.js';

const doc = (instructions: unknown) => JSON.stringify({ v: 1, instructions });

export function pruneMidPageTests(dialect: DialectName): void {
  const name = `${dialect}: a prune between a page's rows and its bodies ends the page there; the next poll cold-boots; nothing is lost`;
  test(name, async (t) => {
    const h = await harness(t, dialect);
    const product = recorder();
    const coldBoots: string[] = [];
    // 10 rows a page in 10,000 bytes: a body over 1,000 bytes comes in the second statement.
    const cache = h.cache({ serverIdentity: 'mid-page', refreshers: [product], pageSize: 10, maxPageBytes: 10_000 });
    cache.on('server:cold-boot', (e) => void coldBoots.push(e.reason));
    await cache.start();
    const write = (instructions: unknown) =>
      h.knex(h.table('cache_instruction')).insert({ json_instruction: doc(instructions), originated: 'writer', instruction_count: 1 });
    await write([{ refresher: 'product', kind: 'payload', payloads: [{ id: 1, pad: 'x'.repeat(2000) }] }]);
    await write([{ refresher: 'product', kind: 'refresh', ids: [2] }]);
    await write([{ refresher: 'product', kind: 'refresh', ids: [3] }]);
    const [big, second, newest] = (await rowIds(h)) as [number, number, number];
    await backdate(h, [big, second]);

    const signals = new SharedArrayBuffer(16);
    const flags = new Int32Array(signals);
    const sqliteFile = (h.knex.client.config.connection as { filename?: string } | undefined)?.filename;
    const workerData: PruneWorkerData = { dialect, prefix: h.prefix, sqliteFile, signals };
    const worker = new Worker(new URL('./prune-mid-page-worker.js', import.meta.url), { workerData });
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    t.after(async () => {
      Atomics.store(flags, 0, 1);
      Atomics.notify(flags, 0);
      await exited;
    });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });

    // The body statement: `select id, <bounded body>, <size> ... where id in (...)`.
    let held = 0;
    const hold = (query: { sql: string }) => {
      if (held > 0 || !/json_bytes/.test(query.sql) || !/\bin \(/.test(query.sql)) return;
      held += 1;
      Atomics.store(flags, 0, 1);
      Atomics.notify(flags, 0);
      // This thread waits, synchronously, before knex hands the statement to the driver.
      assert.equal(Atomics.wait(flags, 1, 0, 30_000), 'ok', 'the prune finished');
    };
    h.knex.on('query', hold);
    t.after(() => void h.knex.off('query', hold));

    const first = await cache.sync();
    assert.equal(held, 1, 'the body statement ran, after the prune');
    assert.equal(flags[2], 2, 'the prune deleted the two old rows');
    assert.equal(flags[3], 1, "the prune marked the server's cursor");
    // The page ended before the vanished row: nothing of it was applied, and no later row either (no gap).
    assert.deepEqual(product.calls, []);
    assert.equal(first.coldBoot, null);

    const next = await cache.sync();
    assert.equal(next.coldBoot, 'requested');
    assert.deepEqual(coldBoots, ['requested']);
    assert.deepEqual(product.calls, [{ kind: 'refresh-all' }], 'the cold boot reloads everything; the pruned payload is never applied');
    // End state: the newest row is kept and covered by the cold boot, the cursor is at the head:
    // the next row is applied once, nothing before it again.
    assert.deepEqual(await rowIds(h), [newest]);
    await write([{ refresher: 'product', kind: 'refresh', ids: [4] }]);
    const again = await cache.sync();
    assert.equal(again.coldBoot, null);
    assert.deepEqual(product.calls, [{ kind: 'refresh-all' }, { kind: 'refresh', ids: [4] }]);
  });
}
