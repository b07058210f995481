import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errors, migrate } from './exports.js';
import { harness } from './harness.js';
import { recorder } from '../support/recorder.js';
import type { DialectName } from '../support/databases.js';

/** Writing, local apply, delivery, transactions and batches. */
export function coreTests(dialect: DialectName): void {
  test('migrate is idempotent and keeps its own migrations table', async (t) => {
    const h = await harness(t, dialect);
    const again = await migrate(h.knex, { tablePrefix: h.prefix });
    assert.deepEqual(again.applied, []);
    assert.equal(await h.knex.schema.hasTable(`${h.prefix}distcache_migrations`), true);
    assert.equal(await h.knex.schema.hasTable(h.table('cache_instruction')), true);
    assert.equal(await h.knex.schema.hasTable(h.table('cache_cursor')), true);
    await assert.rejects(
      migrate(h.knex, { tablePrefix: 'x"; drop table y; --' }),
      (err: Error) => err instanceof errors.InvalidOptionError && /tablePrefix/.test(err.message),
    );
  });

  test('a write is applied locally after commit and reaches another server on sync', async (t) => {
    const h = await harness(t, dialect);
    const onA = recorder();
    const onB = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [onA] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB] });
    await a.start();
    await b.start();
    await a.refresh('product', [42]);
    assert.deepEqual(onA.calls, [{ kind: 'refresh', ids: [42] }], 'the writer applies its own write before the promise resolves');
    const result = await b.sync();
    assert.equal(result.rows, 1);
    assert.deepEqual(onB.calls, [{ kind: 'refresh', ids: [42] }]);
    const own = await a.sync();
    assert.equal(own.skippedOwn, 1, 'the writer skips the row it already applied');
    assert.equal(onA.calls.length, 1);
  });

  test('every kind is delivered with its arguments; one id or an array', async (t) => {
    const h = await harness(t, dialect);
    const onB = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB] });
    await a.start();
    await b.start();
    await a.refresh('product', 7);
    await b.sync();
    await a.remove('product', ['x', 'y']);
    await b.sync();
    await a.refreshPayload('product', [{ id: 42, price: 10 }]);
    await b.sync();
    await a.refreshAll('product');
    await b.sync();
    assert.deepEqual(onB.calls, [
      { kind: 'refresh', ids: [7] },
      { kind: 'remove', ids: ['x', 'y'] },
      { kind: 'payload', payloads: [{ id: 42, price: 10 }] },
      { kind: 'refresh-all' },
    ]);
  });

  test('bad calls are refused on the caller side with typed errors', async (t) => {
    const h = await harness(t, dialect);
    const partial = { id: 'partial', refreshAll() {} };
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder(), partial] });
    await assert.rejects(
      a.refresh('nope', [1]),
      (err: Error) => err instanceof errors.UnknownRefresherError && /nope/.test(err.message) && /product/.test(err.message),
    );
    await assert.rejects(
      a.remove('partial', [1]),
      (err: Error) => err instanceof errors.UnsupportedKindError && /remove\(\)/.test(err.message),
    );
    await assert.rejects(a.refresh('product', []), errors.InvalidInstructionError);
    await assert.rejects(a.refresh('product', [Number.NaN]), errors.InvalidInstructionError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(a.refreshPayload('product', [cyclic as never]), errors.InvalidInstructionError);
    let deep: unknown = 1;
    for (let i = 0; i < 2500; i++) deep = [deep];
    await assert.rejects(a.refreshPayload('product', [deep as never]), /nest at most 2000 levels/);
    const rows = await h.knex(h.table('cache_instruction')).count({ n: '*' });
    assert.equal(Number(rows[0]!.n), 0, 'nothing was written');
  });

  test('with { trx }, the row commits with the transaction and the local apply waits for the commit', async (t) => {
    const h = await harness(t, dialect);
    const onA = recorder();
    const onB = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [onA] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB] });
    await a.start();
    await b.start();
    await h.knex.transaction(async (trx) => {
      await a.refresh('product', [1], { trx });
      assert.equal(onA.calls.length, 0, 'not applied before commit');
    });
    await waitForCalls(onA, 1);
    assert.deepEqual(onA.calls, [{ kind: 'refresh', ids: [1] }]);
    await assert.rejects(
      h.knex.transaction(async (trx) => {
        await a.refresh('product', [2], { trx });
        throw new Error('roll back');
      }),
      /roll back/,
    );
    await b.sync();
    assert.deepEqual(onB.refreshedIds(), [1], 'the rolled-back instruction never reaches another server');
    await a.stop();
    assert.deepEqual(onA.refreshedIds(), [1], 'nor this one');
    const rows = await h.knex(h.table('cache_instruction')).count({ n: '*' });
    assert.equal(Number(rows[0]!.n), 1);
  });

  test('a savepoint released inside a rolled-back transaction applies nothing', async (t) => {
    const h = await harness(t, dialect);
    const onA = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [onA] });
    await assert.rejects(
      h.knex.transaction(async (outer) => {
        await outer.transaction(async (inner) => {
          await a.refresh('product', [3], { trx: inner });
        });
        throw new Error('outer rolls back');
      }),
      /outer rolls back/,
    );
    await a.stop();
    assert.deepEqual(onA.calls, []);
  });

  test('batch() writes one row when it resolves, and nothing when it rejects', async (t) => {
    const h = await harness(t, dialect);
    const onA = recorder();
    const onB = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [onA, recorder('member')] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB, recorder('member')] });
    await a.start();
    await b.start();
    const helper = async (id: number) => a.refresh('product', [id]);
    await a.batch(async () => {
      await helper(1);
      await a.batch(async () => helper(2)); // a nested batch joins the outer one
      await a.refresh('product', [1]);
      await a.refreshAll('member');
      assert.equal(onA.calls.length, 0, 'nothing is applied before the batch resolves');
    });
    const rows = await h.knex(h.table('cache_instruction')).select('instruction_count', 'json_instruction');
    assert.equal(rows.length, 1);
    assert.equal(Number(rows[0]!.instruction_count), 3, 'ids 1 and 2 once each, plus one refresh-all');
    assert.deepEqual(onA.calls, [{ kind: 'refresh', ids: [1, 2] }]);
    await assert.rejects(
      a.batch(async () => {
        await a.refresh('product', [9]);
        throw new Error('request failed');
      }),
      /request failed/,
    );
    await b.sync();
    assert.deepEqual(onB.refreshedIds(), [1, 2]);
    assert.equal((await h.knex(h.table('cache_instruction')).count({ n: '*' }))[0]!.n == 1, true);
  });

  test('batch() of two caches in one process: each call joins the batch of its own cache, however they nest', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [recorder()] });
    await a.start();
    await b.start();
    const written = async () =>
      (await h.knex(h.table('cache_instruction')).select('originated', 'json_instruction').orderBy('id')).map(
        (r: { originated: string; json_instruction: string }) => [
          r.originated,
          (JSON.parse(r.json_instruction) as { instructions: Array<{ ids: number[] }> }).instructions.flatMap((i) => i.ids),
        ],
      );
    await a.batch(async () => {
      void a.refresh('product', 1);
      await b.refresh('product', 10); // no batch of b is open: written at once
      await b.batch(async () => {
        void a.refresh('product', 2); // inside b's batch, still a's
        void b.refresh('product', 11);
        await a.batch(async () => {
          void a.refresh('product', 3); // nested: joins a's outer batch
          void b.refresh('product', 12);
        });
      });
      assert.deepEqual(
        await written(),
        [
          ['b', [10]],
          ['b', [11, 12]],
        ],
        "b's batch is written when it resolves, a's is still open",
      );
      void a.refresh('product', 4);
    });
    assert.deepEqual(await written(), [
      ['b', [10]],
      ['b', [11, 12]],
      ['a', [1, 2, 3, 4]],
    ]);
  });

  test('batch(): single-id calls are checked like any other, and a run of them arrives as one refresh', async (t) => {
    const h = await harness(t, dialect);
    const onB = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder(), { id: 'no-remove', refreshAll() {} }] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB, { id: 'no-remove', refreshAll() {} }] });
    await b.start();
    const rejections: unknown[] = [];
    await a.batch(async () => {
      for (const id of [3, 1, 2, 1]) void a.refresh('product', id);
      await a.refresh('nope', 1).catch((err: unknown) => rejections.push(err));
      await a.remove('no-remove', 1).catch((err: unknown) => rejections.push(err));
      await a.refresh('product', Number.NaN).catch((err: unknown) => rejections.push(err));
      void a.remove('product', 2);
      void a.refresh('product', 2);
    });
    assert.deepEqual(
      rejections.map((err) => (err as { code?: string }).code),
      ['E_UNKNOWN_REFRESHER', 'E_UNSUPPORTED_KIND', 'E_INVALID_INSTRUCTION'],
    );
    await b.sync();
    assert.deepEqual(onB.calls, [
      { kind: 'refresh', ids: [3, 1, 2] },
      { kind: 'remove', ids: [2] },
      { kind: 'refresh', ids: [2] },
    ]);
  });

  test('coalescing keeps meaning: refresh 5, remove 5, refresh 5 arrives in that order', async (t) => {
    const h = await harness(t, dialect);
    const onB = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB] });
    await b.start();
    await a.batch(async () => {
      await a.refresh('product', [5]);
      await a.refresh('product', [5, 6]);
      await a.remove('product', [5]);
      await a.refresh('product', [5]);
    });
    await b.sync();
    assert.deepEqual(onB.calls, [
      { kind: 'refresh', ids: [5, 6] },
      { kind: 'remove', ids: [5] },
      { kind: 'refresh', ids: [5] },
    ]);
  });

  test('a write that fails rejects with E_WRITE_FAILED and applies nothing', async (t) => {
    const h = await harness(t, dialect);
    const onA = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [onA] });
    let emitted = 0;
    a.on('write:error', () => emitted++);
    await h.knex.schema.renameTable(h.table('cache_instruction'), `${h.prefix}moved_away`);
    try {
      await assert.rejects(
        a.refresh('product', [1]),
        (err: Error) => err instanceof errors.WriteFailedError && (err as { code?: string }).code === 'E_WRITE_FAILED',
      );
    } finally {
      await h.knex.schema.renameTable(`${h.prefix}moved_away`, h.table('cache_instruction'));
    }
    assert.equal(emitted, 1);
    assert.deepEqual(onA.calls, []);
  });

  test('rows from an earlier process with the same identity are applied; rows of this instance are not', async (t) => {
    const h = await harness(t, dialect);
    const first = h.cache({ serverIdentity: 'web-1', refreshers: [recorder()] });
    await first.start();
    await first.refresh('product', [1]);
    await first.stop();
    const onSecond = recorder();
    const second = h.cache({ serverIdentity: 'web-1', refreshers: [onSecond] });
    await second.start();
    assert.deepEqual(onSecond.refreshedIds(), [1]);
  });

  test('a plain SQL insert from another program is delivered', async (t) => {
    const h = await harness(t, dialect);
    const onB = recorder();
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB] });
    await b.start();
    await h.knex.raw(`INSERT INTO ${h.table('cache_instruction')} (json_instruction, originated, instruction_count) VALUES (?, ?, ?)`, [
      JSON.stringify({ v: 1, instructions: [{ refresher: 'product', kind: 'refresh', ids: [77] }] }),
      'sql-script',
      1,
    ]);
    await b.sync();
    assert.deepEqual(onB.refreshedIds(), [77]);
  });

  test('concurrent sync() calls share one poll and never apply a row twice', async (t) => {
    const h = await harness(t, dialect);
    const onB = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB] });
    await b.start();
    for (let i = 0; i < 20; i++) await a.refresh('product', [i]);
    const results = await Promise.all(Array.from({ length: 10 }, () => b.sync()));
    assert.equal(
      results.reduce((n, r) => n + r.rows, 0),
      20,
    );
    assert.deepEqual(
      [...onB.refreshedIds()].sort((x, y) => Number(x) - Number(y)),
      Array.from({ length: 20 }, (_, i) => i),
    );
  });

  test('start() and stop() are safe to call twice and concurrently; stop() leaves knex open', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    await Promise.all([a.start(), a.start()]);
    await a.start();
    await Promise.all([a.stop(), a.stop()]);
    await a.stop();
    await h.knex.raw('select 1');
    await assert.rejects(a.start(), errors.StoppedError);
    assert.throws(() => a.register(recorder('late')), errors.RegisterAfterStartError);
  });

  test('a started server publishes its refresher ids, so operators can check what they send', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder(), recorder('member')] });
    await a.start();
    const row = await h.knex(`${h.prefix}cache_server`).where({ server_identity: 'a' }).first('refreshers');
    assert.deepEqual(JSON.parse(String(row.refreshers)), ['member', 'product']);
  });

  test('the background poller delivers within the sync interval', async (t) => {
    const h = await harness(t, dialect);
    const onB = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB], syncInterval: 50 });
    await b.start();
    await a.refresh('product', [5]);
    await waitForCalls(onB, 1);
    assert.deepEqual(onB.refreshedIds(), [5]);
  });
}

export async function waitForCalls(r: { calls: unknown[] }, n: number): Promise<void> {
  const { waitFor } = await import('../support/wait.js');
  await waitFor(() => r.calls.length >= n, { describe: () => `${r.calls.length} of ${n} calls` });
}

/** Wake-up: where the dialect has one, a commit elsewhere is delivered long before the next poll. */
export function wakeTests(dialect: DialectName): void {
  test('with notify on, another server applies a write long before its 60 s poll interval', async (t) => {
    const h = await harness(t, dialect);
    const { dialectFor } = await import('../../src/dialects/dialect.js');
    if (!dialectFor(h.knex).createWakeSource) {
      t.skip(`${dialect} has no wake-up; polling alone delivers`);
      return;
    }
    const onB = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()], notify: true });
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB], syncInterval: 60_000, notify: true, knex: h.connection() });
    await a.start();
    await b.start();
    await a.refresh('product', [11]);
    await waitForCalls(onB, 1);
    assert.deepEqual(onB.refreshedIds(), [11]);
  });
}
