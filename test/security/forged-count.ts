/**
 * Issue 22, "No trust boundary between writers": the "too far behind" guard summed the stored
 * instruction_count, which a writer chooses. One call with 1,001 ids made every server refresh
 * every refresher; a plain INSERT with instruction_count = 2147483647 did the same; and
 * instruction_count = 1 on a 200,000-id row skipped the guard. The guard now counts what it decodes,
 * per refresher.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { harness } from '../conformance/harness.js';
import { recorder } from '../support/recorder.js';
import type { DialectName } from '../support/databases.js';

const doc = (instructions: unknown) => JSON.stringify({ v: 1, instructions });

export function forgedCountTests(dialect: DialectName): void {
  const name = `${dialect}: a forged instruction_count neither cold-boots a server nor hides a backlog; 1,001 ids reload one refresher`;
  test(name, async (t) => {
    const h = await harness(t, dialect);
    const product = recorder();
    const other = recorder('other');
    const coldBoots: string[] = [];
    const cache = h.cache({
      serverIdentity: 'guarded',
      refreshers: [product, other],
      onColdBoot: ({ reason }) => void coldBoots.push(reason),
    });
    await cache.start();
    const insert = (instructions: unknown, count: number) =>
      h
        .knex(h.table('cache_instruction'))
        .insert({ json_instruction: doc(instructions), originated: 'cli:root@ops-bastion', instruction_count: count });

    // 2147483647 claimed, one id sent: applied as the one id it is.
    await insert([{ refresher: 'product', kind: 'refresh', ids: [1] }], 2147483647);
    assert.equal((await cache.sync()).coldBoot, null);
    assert.deepEqual(product.calls, [{ kind: 'refresh', ids: [1] }]);

    // One claimed, 200,000 ids sent: past maxPendingInstructions (1,000) for product, which is reloaded; other is not touched.
    await insert([{ refresher: 'product', kind: 'refresh', ids: Array.from({ length: 200_000 }, (_, i) => i) }], 1);
    await insert([{ refresher: 'other', kind: 'refresh', ids: [9] }], 1);
    assert.equal((await cache.sync()).coldBoot, null);
    assert.deepEqual(product.calls.at(-1), { kind: 'refresh-all' });
    assert.ok(!product.calls.some((c) => c.kind === 'refresh' && c.ids.length > 1000), 'the 200,000 ids never reach the refresher');
    assert.deepEqual(other.calls, [{ kind: 'refresh', ids: [9] }]);

    // 1,001 ids, honestly counted: the same, one refresher reloaded, never every cache.
    await insert([{ refresher: 'product', kind: 'refresh', ids: Array.from({ length: 1001 }, (_, i) => i) }], 1001);
    assert.equal((await cache.sync()).coldBoot, null);
    assert.deepEqual(product.calls.at(-1), { kind: 'refresh-all' });
    assert.deepEqual(other.calls, [{ kind: 'refresh', ids: [9] }]);
    assert.deepEqual(coldBoots, []);
  });

  // A backlog of more than one page is first measured (pending()) before it is read: in rows, never
  // by the stored instruction_count, so a forged count cannot cold-boot a server there either.
  test(`${dialect}: a forged instruction_count in a backlog of several pages does not cold-boot a server`, async (t) => {
    const h = await harness(t, dialect);
    const product = recorder();
    const coldBoots: string[] = [];
    const cache = h.cache({
      serverIdentity: 'paged',
      refreshers: [product],
      pageSize: 2,
      onColdBoot: ({ reason }) => void coldBoots.push(reason),
    });
    await cache.start();
    const rows = [1, 2, 3, 4, 5].map((id) => ({
      json_instruction: doc([{ refresher: 'product', kind: 'refresh', ids: [id] }]),
      originated: 'cli:root@ops-bastion',
      instruction_count: id === 3 ? 2147483647 : 1,
    }));
    await h.knex(h.table('cache_instruction')).insert(rows);
    const result = await cache.sync();
    assert.equal(result.coldBoot, null);
    assert.deepEqual(coldBoots, []);
    assert.deepEqual(product.calls, [{ kind: 'refresh', ids: [1, 2, 3, 4, 5] }]);
  });
}
