import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { errors } from '../src/index.js';
import { pgExecutor } from '../src/executors/index.js';
import { availability, PG_URL, selectedDialects } from './support/databases.js';
import { harness } from './conformance/harness.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/**
 * Read-your-writes across servers in one process: two servers (caches) on one database, each with
 * its own region over the same table. Neither polls by itself (syncInterval 60 s, no wake-up), so
 * without waitFor the second server keeps its old entry; waitFor makes it apply the write first.
 */
for (const dialect of selectedDialects()) {
  describe(`${dialect}: waitFor`, () => {
    test('a token from a write on A makes B apply it before it reads; without it B reads the old value', async (t) => {
      const skip = await availability(dialect);
      if (skip) return t.skip(skip);
      const h = await harness(t, dialect);
      await h.knex.schema.createTable(`${h.prefix}item`, (tb) => {
        tb.integer('id').primary();
        tb.integer('v').notNullable();
      });
      const table = `${h.prefix}item`;
      await h.knex(table).insert([{ id: 1, v: 0 }]);
      const load = async (id: unknown) => (await h.knex(table).where({ id }).first('v'))?.v as number | undefined;
      const a = h.cache({ serverIdentity: 'a' });
      const b = h.cache({ serverIdentity: 'b' });
      const ra = a.region<number>('item', { load });
      const rb = b.region<number>('item', { load });
      await a.start();
      await b.start();
      assert.equal(await rb.get(1), 0);

      await h.knex(table).where({ id: 1 }).update({ v: 1 });
      const position = await ra.refresh([1]);
      assert.match(position, /^1\.[0-9a-z]+\.[A-Za-z0-9_-]{6}$/, 'a short opaque token');
      assert.equal(await rb.get(1), 0, 'without waitFor, B still answers the old value (it has not polled)');
      assert.equal(await b.waitFor(position, { timeout: '5s' }), true);
      assert.equal(await rb.get(1), 1, 'after waitFor, B reads the write');
      assert.equal(await b.waitFor(position), true, 'a token already applied resolves at once');
      assert.equal(await a.waitFor(position), true, 'the writing server has applied its own write');
      assert.equal(await b.waitFor(''), true, "'' (nothing written) resolves true");

      // Every write kind resolves to a token; each is covered once applied.
      const tokens = [
        await a.refresh('item', [1]),
        await a.remove('item', 1),
        await a.refreshAll('item'),
        await a.refreshPayload('item', [{ key: 1, value: 2 }]),
        await ra.refreshTags(['t']),
        await ra.refreshValues([{ key: 1, value: 3 }]),
        await h.knex.transaction((trx) => a.refresh('item', [1], { trx })),
      ];
      for (const token of tokens) assert.notEqual(token, '');
      assert.equal(await b.waitFor(tokens.at(-1)!, { timeout: '5s' }), true);
      for (const token of tokens) assert.equal(await b.waitFor(token, { timeout: 0 }), true, 'earlier writes are covered too');
      // Inside batch() a call resolves to '' (nothing written yet); the batch resolves to its row's token,
      // as runInRequest's request.position does.
      let inBatch = 'x';
      const inRequest = await a.runInRequest(async (request) => {
        let gathered = 'x';
        inBatch = await a.batch(async () => {
          gathered = await a.refresh('item', [1]);
        });
        assert.equal(gathered, '');
        return request.position;
      });
      assert.notEqual(inBatch, '');
      assert.equal(inBatch, inRequest);
      assert.equal(await b.waitFor(inBatch, { timeout: '5s' }), true);
    });

    test("batch() resolves to its row's token: another server's waitFor applies the batch's instructions before it resolves", async (t) => {
      const skip = await availability(dialect);
      if (skip) return t.skip(skip);
      const h = await harness(t, dialect);
      const seen: unknown[] = [];
      const a = h.cache({ serverIdentity: 'a', refreshers: [{ id: 'x', refreshAll() {}, refresh() {}, remove() {} }] });
      const b = h.cache({
        serverIdentity: 'b',
        refreshers: [{ id: 'x', refreshAll: () => void seen.push('all'), refresh: (ids) => void seen.push(...ids), remove() {} }],
      });
      await a.start();
      await b.start();
      let result: number | undefined;
      const position = await a.batch(async () => {
        for (const id of [1, 2, 3]) void a.refresh('x', id);
        // A nested batch joins this one (one row), and resolves to '' like any call gathered here.
        assert.equal(await a.batch(() => void a.refresh('x', 4)), '');
        result = 42; // the work's own result is captured, not returned
      });
      assert.equal(result, 42);
      assert.match(position, /^1\.[0-9a-z]+\.[A-Za-z0-9_-]{6}$/);
      assert.deepEqual(seen, [], 'B has not polled (no wake-up, a 60 s interval)');
      assert.equal(await b.waitFor(position, { timeout: '5s' }), true);
      assert.deepEqual(seen, [1, 2, 3, 4], "B applied the batch's instructions before waitFor resolved");
      // Written after earlier writes, so its token covers them: one row, the newest.
      const rows = await h.knex(h.table('cache_instruction')).max({ id: 'id' });
      assert.equal(parseInt(position.split('.')[1]!, 36), Number(rows[0]!.id));

      assert.equal(await a.batch(() => undefined), '', "a batch that wrote nothing resolves to ''");
      await assert.rejects(
        a.batch(async () => {
          void a.refresh('x', 9);
          throw new Error('work failed');
        }),
        /work failed/,
        "a rejected batch writes nothing and rejects with the work's error",
      );
      // Inside cache.transaction() a batch is written when it resolves, like a plain write there.
      const inTransaction = await a.transaction(() => a.batch(() => void a.refresh('x', 5)));
      assert.notEqual(inTransaction, '');
      assert.equal(await b.waitFor(inTransaction, { timeout: '5s' }), true);
      assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    });

    if (dialect === 'postgres') {
      test('an executor write inside cache.transaction() gives a token too (node-postgres)', async (t) => {
        const skip = await availability(dialect);
        if (skip) return t.skip(skip);
        const h = await harness(t, dialect);
        const seen: unknown[] = [];
        const a = h.cache({ serverIdentity: 'a', refreshers: [{ id: 'x', refreshAll() {}, refresh() {}, remove() {} }] });
        const b = h.cache({ serverIdentity: 'b', refreshers: [{ id: 'x', refreshAll() {}, refresh: (ids) => void seen.push(...ids) }] });
        await a.start();
        await b.start();
        const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
        const position = await a
          .transaction(async () => {
            const client = await pool.connect();
            try {
              await client.query('begin');
              const token = await a.refresh('x', [7], { trx: pgExecutor(client) });
              await client.query('commit');
              return token;
            } finally {
              client.release();
            }
          })
          .finally(() => pool.end()); // before the leak check at the test's end
        assert.notEqual(position, '');
        assert.deepEqual(seen, []);
        assert.equal(await b.waitFor(position, { timeout: '5s' }), true);
        assert.deepEqual(seen, [7], 'B applied the write before waitFor resolved');
      });
    }

    test('covers() follows commit order, not ids: a row that commits after a later-numbered one is not covered in between', async (t) => {
      const skip = await availability(dialect);
      if (skip) return t.skip(skip);
      const h = await harness(t, dialect);
      const a = h.cache({ serverIdentity: 'a', refreshers: [{ id: 'x', refreshAll() {}, refresh() {}, remove() {} }] });
      await a.start();
      const rowOf = (token: string) => parseInt(token.split('.')[1]!, 36);
      const before = await a.store.head();
      const first = rowOf(await a.refresh('x', [1]));
      assert.equal(await a.store.covers(before, first), false);
      assert.equal(await a.store.covers(await a.store.head(), first), true);
      assert.equal(await a.store.covers(await a.store.head(), first + 1_000_000), null, 'no such row');
      if (dialect === 'sqlite') return; // one writer at a time: no transaction can stay open beside another's commit
      // T1 inserts first (the smaller id) and stays open; T2 inserts later and commits first.
      const other = h.connection();
      const t1 = await h.knex.transaction();
      const slow = rowOf(await a.refresh('x', [2], { trx: t1 }));
      // On MySQL the seq row lock makes T2 wait for T1: T2 runs in the background and commits after T1.
      const fastWrite = other.transaction((t2) => a.refresh('x', [3], { trx: t2 }));
      const between = dialect === 'postgres' ? (await fastWrite, await a.store.head()) : await a.store.head();
      assert.equal(await a.store.covers(between, slow), null, 'the open transaction’s row cannot be seen yet');
      await t1.commit();
      const fast = rowOf(await fastWrite);
      assert.ok(slow < fast, 'T1 took the smaller id');
      assert.equal(await a.store.covers(between, slow), false, 'a position taken before T1 committed does not cover its row');
      if (dialect === 'postgres') assert.equal(await a.store.covers(between, fast), true, 'but covers T2, committed earlier');
      assert.equal(await a.store.covers(await a.store.head(), slow), true);
    });

    test('a token of a write rolled back, or of a row that does not exist, resolves true after one poll', async (t) => {
      const skip = await availability(dialect);
      if (skip) return t.skip(skip);
      const h = await harness(t, dialect);
      const a = h.cache({ serverIdentity: 'a', refreshers: [{ id: 'x', refreshAll() {}, refresh() {}, remove() {} }] });
      const b = h.cache({ serverIdentity: 'b', refreshers: [{ id: 'x', refreshAll() {}, refresh() {}, remove() {} }] });
      await a.start();
      await b.start();
      let rolledBack = '';
      await assert.rejects(
        h.knex.transaction(async (trx) => {
          rolledBack = await a.refresh('x', [1], { trx });
          throw new Error('roll back');
        }),
      );
      assert.notEqual(rolledBack, '');
      assert.equal(await b.waitFor(rolledBack, { timeout: '5s' }), true);
      const real = await a.refresh('x', [1]);
      const beyond = real.replace(/^1\.[0-9a-z]+/, `1.${(10 ** 9).toString(36)}`);
      assert.equal(await b.waitFor(beyond, { timeout: '5s' }), true);
    });

    test('bad tokens reject with E_INVALID_POSITION; a stopped server resolves false', async (t) => {
      const skip = await availability(dialect);
      if (skip) return t.skip(skip);
      const h = await harness(t, dialect);
      const refresher = { id: 'x', refreshAll() {}, refresh() {}, remove() {} };
      const a = h.cache({ serverIdentity: 'a', refreshers: [refresher] });
      const other = h.cache({ serverIdentity: 'o', cluster: 'other', refreshers: [refresher] });
      await a.start();
      const token = await a.refresh('x', [1]);
      for (const bad of ['nope', '1.zz', '2.1.abcdef', 'x'.repeat(65), '1.-1.abcdef', 42 as never]) {
        await assert.rejects(a.waitFor(bad), { code: 'E_INVALID_POSITION' }, String(bad));
      }
      const otherCluster = (err: unknown) => err instanceof errors.InvalidPositionError && /another cluster/.test(String(err));
      await assert.rejects(other.waitFor(token), otherCluster);
      await assert.rejects(a.waitFor(token, { timeout: 'soon' }), { code: 'E_INVALID_OPTION' });
      assert.equal(await other.waitFor(''), true);
      await a.stop();
      assert.equal(await a.waitFor(token), false, 'a stopped server applies nothing');
    });
  });
}
