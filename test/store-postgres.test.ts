import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import knexFactory, { type Knex } from 'knex';
import { migrate } from '../src/migrations/migrate.js';
import { dialectFor } from '../src/dialects/dialect.js';
import { postgresDialect } from '../src/dialects/postgres/dialect.js';
import { rawRows } from '../src/store/commit-ordered-store.js';
import type { InstructionStore, NewInstructionRow, StoredInstructionRow } from '../src/store/store.js';
import { tableNames, type TableNames } from '../src/store/tables.js';
import { availability, DATABASES, dropPrefixed, freshPrefix, PG_URL } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const skip = await availability('postgres');

describe('postgres store: the exact snapshot cursor', { skip }, () => {
  let knex: Knex;

  before(() => {
    knex = knexFactory(DATABASES.postgres.config());
  });
  after(async () => {
    await knex.destroy();
  });

  interface Setup {
    prefix: string;
    tables: TableNames;
    store: InstructionStore;
    /** A second table for writers to touch, so their transactions hold an xid before they write an instruction. */
    side: string;
    cleanup(): Promise<void>;
  }

  async function setup(cluster = 'default'): Promise<Setup> {
    const prefix = freshPrefix();
    await migrate(knex, { tablePrefix: prefix });
    const tables = tableNames(prefix);
    const side = `${prefix}app_data`;
    await knex.schema.createTable(side, (t) => {
      t.increments('id');
      t.string('v');
    });
    const store = postgresDialect.createStore({ knex, tables, cluster, queryTimeout: 30_000 });
    return {
      prefix,
      tables,
      store,
      side,
      cleanup: () => dropPrefixed(knex, prefix),
    };
  }

  function row(label: string, instructionCount = 1): NewInstructionRow {
    return { json: JSON.stringify({ label }), originated: 'test', originInstance: null, instructionCount };
  }

  const labelOf = (r: StoredInstructionRow) => (JSON.parse(r.json) as { label: string }).label;

  /** Reads one whole window from `identity`'s cursor, page by page, and stores the position at its end. */
  async function readWindow(store: InstructionStore, identity: string, limit = 100) {
    const cursor = await store.loadCursor(identity);
    assert.ok(cursor, `${identity} has a cursor`);
    const rows: StoredInstructionRow[] = [];
    const positions: Array<string | null> = [];
    let token: string | null = null;
    for (;;) {
      const page = await store.readPage(identity, cursor.position, token, limit);
      rows.push(...page.rows);
      positions.push(page.position);
      if (page.token === null) {
        assert.notEqual(page.position, null, 'the last page of a window carries the position');
        await store.saveCursor(identity, page.position!);
        return { rows, positions, position: page.position! };
      }
      assert.equal(page.rows.length, limit, 'a token only follows a full page');
      token = page.token;
    }
  }

  async function txidOrder(tables: TableNames, ids: number[]): Promise<number[]> {
    const raws = await knex(tables.instruction).whereIn('id', ids).select('id').orderByRaw('txid, id');
    return raws.map((r: { id: unknown }) => Number(r.id));
  }

  test('the dialect serves the pg clients and migrates the txid column with its default', async () => {
    assert.equal(dialectFor(knex), postgresDialect);
    const s = await setup();
    const [column] = rawRows(
      await knex.raw(`select data_type, column_default from information_schema.columns where table_name = ? and column_name = 'txid'`, [
        s.tables.instruction,
      ]),
    );
    assert.equal(column?.data_type, 'xid8');
    assert.match(String(column?.column_default), /pg_current_xact_id\(\)/);
    assert.deepEqual(s.store.capabilities, { dialect: 'postgres', notify: true, serverCancel: true });
    await s.cleanup();
  });

  test('rollbacks never appear, long-open transactions elsewhere do not hold rows back, paging is exact', async () => {
    const s = await setup();
    const reader = 'pager';
    const start = await s.store.head();
    await s.store.resetCursor(reader, start);

    // A transaction with an xid on another table, and one idle in another database.
    const blocker = await knex.transaction();
    await blocker(s.side).insert({ v: 'blocker' });
    const blockerXid = String(rawRows(await blocker.raw('select pg_current_xact_id()::text as x'))[0]?.x);
    const otherUrl = new URL(PG_URL);
    otherUrl.pathname = '/postgres';
    const other = knexFactory({ client: 'pg', connection: otherUrl.toString(), pool: { min: 0, max: 1 } });
    const idle = await other.transaction();
    const idleXid = String(rawRows(await idle.raw('select pg_current_xact_id()::text as x'))[0]?.x);

    try {
      const rolledBack = await knex.transaction();
      await s.store.insert([row('rb1'), row('rb2')], rolledBack);
      await rolledBack.rollback();

      // D takes its xid first but writes its instruction last: (txid, id) order differs from id order.
      const d = await knex.transaction();
      await d(s.side).insert({ v: 'd' });
      const expected = [...(await s.store.insert([row('r1')])), ...(await s.store.insert([row('r2'), row('r3')]))];
      expected.push(...(await s.store.insert([row('r4')])));
      const [idD] = await s.store.insert([row('d')], d);
      await d.commit();
      expected.push(idD!, ...(await s.store.insert([row('r5'), row('r6')])));
      assert.equal(expected.length, 7);

      const window = await readWindow(s.store, reader, 2);
      const ids = window.rows.map((r) => r.id);
      assert.equal(new Set(ids).size, 7, 'each row exactly once');
      assert.deepEqual(
        [...ids].sort((a, b) => a - b),
        [...expected].sort((a, b) => a - b),
        'every committed row, no rolled-back one',
      );
      assert.deepEqual(ids, await txidOrder(s.tables, ids), 'in (txid, id) order');
      assert.ok(ids.indexOf(idD!) < ids.indexOf(expected[0]!), 'd came first: it has the oldest txid but the newest id');
      assert.deepEqual(window.positions, [null, null, null, window.position], 'position only on the last page');

      // The open transactions really were in the snapshot: both are in its xip, xmin is held back.
      const [snap] = rawRows(
        await knex.raw(
          'select pg_snapshot_xmin(?::pg_snapshot)::text as xmin, array(select pg_snapshot_xip(?::pg_snapshot)::text) as xip',
          [window.position, window.position],
        ),
      );
      const xip = snap?.xip as string[];
      assert.ok(xip.includes(blockerXid) && xip.includes(idleXid), `xip ${xip} holds ${blockerXid} and ${idleXid}`);
      assert.ok(BigInt(String(snap?.xmin)) <= BigInt(blockerXid));

      assert.deepEqual((await readWindow(s.store, reader, 2)).rows, []);
    } finally {
      await blocker.rollback();
      await idle.rollback();
      await other.destroy();
    }
    await s.cleanup();
  });

  test('pruneChunk marks exactly the cursors that had not read a doomed row, keeps the newest, respects coveredBy', async () => {
    const s = await setup();
    const insert = async (label: string) => (await s.store.insert([row(label)]))[0]!;
    const age = () => knex(s.tables.instruction).update({ utc_stamp: knex.raw(`now() - interval '1 hour'`) });
    const hour = 30 * 60_000;

    const r1 = await insert('r1');
    const r2 = await insert('r2');
    const posEarly = await s.store.head(); // covers r1, r2
    const trxT = await knex.transaction();
    const [r3] = await s.store.insert([row('r3')], trxT);
    const r4 = await insert('r4');
    const posXip = await s.store.head(); // covers r1, r2, r4; r3 still in progress
    await trxT.commit();
    const posMid = await s.store.head(); // covers r1..r4
    const r5 = await insert('r5');
    const r6 = await insert('r6');
    const posAll = await s.store.head();
    assert.ok(r3! < r4);

    await s.store.resetCursor('early', posEarly);
    await s.store.resetCursor('xip', posXip);
    await s.store.resetCursor('mid', posMid);
    await s.store.resetCursor('current', posAll);
    await s.store.resetCursor('already', posEarly);
    await s.store.requestColdBoot('already');
    await age();

    assert.deepEqual(await s.store.prunePreview({ olderThanMs: hour }), { rows: 5, minId: r1, maxId: r5 });
    assert.deepEqual(await s.store.prunePreview({ olderThanMs: hour, coveredBy: [posEarly, posAll] }), { rows: 2, minId: r1, maxId: r2 });
    assert.deepEqual(await s.store.prunePreview({ olderThanMs: 2 * 60 * 60_000 }), { rows: 0, minId: null, maxId: null });

    assert.deepEqual(await s.store.pruneChunk({ olderThanMs: hour, limit: 100, coveredBy: [posEarly, posAll] }), {
      deleted: 2,
      marked: [],
    });
    // Doomed: r3 (which 'xip' missed though its snapshot's xmax is past it) and r4.
    assert.deepEqual(await s.store.pruneChunk({ olderThanMs: hour, limit: 2 }), { deleted: 2, marked: ['early', 'xip'] });
    assert.deepEqual(await s.store.pruneChunk({ olderThanMs: hour, limit: 100 }), { deleted: 1, marked: ['mid'] });
    assert.deepEqual(await s.store.pruneChunk({ olderThanMs: hour, limit: 100 }), { deleted: 0, marked: [] });
    assert.deepEqual(
      (await s.store.newest(10)).map((r) => r.id),
      [r6],
      'the newest row stays',
    );

    const flags = Object.fromEntries((await s.store.listCursors()).map((c) => [c.identity, c.coldBootRequested]));
    assert.deepEqual(flags, { already: true, current: false, early: true, mid: true, xip: true });
    assert.equal((await s.store.readPage('early', posEarly, null, 10)).coldBootRequested, true);

    // Once r6 is no longer the newest it goes; a recent row is not old enough.
    const r7 = await insert('r7');
    assert.deepEqual(await s.store.pruneChunk({ olderThanMs: hour, limit: 100 }), { deleted: 1, marked: [] });
    await insert('r8');
    assert.deepEqual(await s.store.pruneChunk({ olderThanMs: hour, limit: 100 }), { deleted: 0, marked: [] });
    assert.equal((await s.store.newest(10))[0]?.id, r7);

    const summary = await s.store.logSummary(hour);
    assert.equal(summary.rows, 2);
    assert.equal(summary.pastRetention, 0);
    await s.cleanup();
  });

  test('an idle poll is one query, and so is a page with rows; the cursor flag rides along', async () => {
    const s = await setup();
    const reader = 'idle';
    await s.store.resetCursor(reader, await s.store.head());
    const from = (await s.store.loadCursor(reader))!.position;

    let queries = 0;
    const count = () => queries++;
    knex.on('query', count);
    try {
      const idle = await s.store.readPage(reader, from, null, 100);
      assert.equal(queries, 1);
      assert.deepEqual(idle.rows, []);
      assert.equal(idle.token, null);
      assert.notEqual(idle.position, null, 'an empty window still advances the cursor');
      assert.equal(idle.coldBootRequested, false);

      knex.off('query', count);
      await s.store.insert([row('x')]);
      knex.on('query', count);
      queries = 0;
      const busy = await s.store.readPage(reader, from, null, 100);
      assert.equal(queries, 1);
      assert.deepEqual(busy.rows.map(labelOf), ['x']);
    } finally {
      knex.off('query', count);
    }

    assert.equal((await s.store.readPage('nobody', from, null, 100)).coldBootRequested, null);
    await s.store.requestColdBoot(reader);
    assert.equal((await s.store.readPage(reader, from, null, 100)).coldBootRequested, true);

    const dbNow = await s.store.now();
    assert.ok(Math.abs(dbNow.getTime() - Date.now()) < 60_000);
    await s.cleanup();
  });

  describe('the poll as a prepared statement', () => {
    /** A store on its own one-connection pool, so a test can reach the very session the poll uses. */
    async function onePool(preparedStatements?: boolean) {
      const s = await setup();
      const single = knexFactory({ ...DATABASES.postgres.config(), pool: { min: 1, max: 1 } });
      const store = postgresDialect.createStore({
        knex: single,
        tables: s.tables,
        cluster: 'default',
        queryTimeout: 30_000,
        ...(preparedStatements === undefined ? {} : { preparedStatements }),
      });
      await store.resetCursor('r', await store.head());
      const from = (await store.loadCursor('r'))!.position;
      const prepared = async () =>
        rawRows(await single.raw(`select name from pg_prepared_statements where name like 'distcache_%'`)).map((r) => String(r.name));
      return {
        s,
        single,
        store,
        from,
        prepared,
        async close() {
          await single.destroy();
          await s.cleanup();
        },
      };
    }

    test('is prepared once on the pooled session and reused; preparedStatements: false leaves none', async () => {
      const on = await onePool();
      try {
        await on.s.store.insert([row('a')]);
        const first = await on.store.readPage('r', on.from, null, 100);
        assert.deepEqual(first.rows.map(labelOf), ['a']);
        assert.equal((await on.prepared()).length, 1, 'one named statement on the session');
        for (let i = 0; i < 10; i++) await on.store.readPage('r', first.position!, null, 100);
        assert.equal((await on.prepared()).length, 1, 'reused, not prepared again');
        await on.store.readPage('r', on.from, null, 50);
        assert.equal((await on.prepared()).length, 2, 'a page size of its own is a statement of its own');
      } finally {
        await on.close();
      }
      const off = await onePool(false);
      try {
        await off.s.store.insert([row('b')]);
        assert.deepEqual((await off.store.readPage('r', off.from, null, 100)).rows.map(labelOf), ['b']);
        assert.deepEqual(await off.prepared(), []);
      } finally {
        await off.close();
      }
    });

    test("a batch insert returns each row its own id, in the rows' order, with every column as given", async () => {
      const t = await onePool();
      try {
        const rows = Array.from({ length: 250 }, (_, i) => ({ ...row(`r${i}`, i + 1), originInstance: i % 2 ? `inst-${i}` : null }));
        const ids = await t.store.insert(rows);
        assert.equal(ids.length, 250);
        const stored = rawRows(
          await t.single.raw(`select id, json_instruction, origin_instance, instruction_count, cluster from ?? order by id`, [
            t.s.tables.instruction,
          ]),
        );
        assert.deepEqual(
          stored.map((r) => Number(r.id)),
          ids,
          'ids in the order of the rows given',
        );
        stored.forEach((r, i) => {
          assert.equal(JSON.parse(String(r.json_instruction)).label, `r${i}`);
          assert.equal(r.origin_instance, i % 2 ? `inst-${i}` : null);
          assert.equal(Number(r.instruction_count), i + 1);
          assert.equal(r.cluster, 'default');
        });
        assert.deepEqual((await t.store.insert([row('one')])).length, 1);
      } finally {
        await t.close();
      }
    });

    const lostStatementTest =
      'a session that lost the statement (as behind a transaction-mode pooler) falls back to unnamed statements and stays there';
    test(lostStatementTest, async () => {
      const t = await onePool();
      try {
        await t.s.store.insert([row('a')]);
        const first = await t.store.readPage('r', t.from, null, 100);
        // What a pooler does: the next statement reaches a server session that never saw the PREPARE.
        await t.single.raw('deallocate all');
        await t.s.store.insert([row('b')]);
        const next = await t.store.readPage('r', first.position!, null, 100);
        assert.deepEqual(next.rows.map(labelOf), ['b'], 'the page is read anyway');
        await t.store.readPage('r', next.position!, null, 100);
        assert.deepEqual(await t.prepared(), [], 'no statement is prepared again');
      } finally {
        await t.close();
      }
    });

    const blockedPollTest =
      'a poll blocked past queryTimeout is cancelled on the server and rejects with a timeout; the session is usable after';
    test(blockedPollTest, async () => {
      const s = await setup();
      const single = knexFactory({ ...DATABASES.postgres.config(), pool: { min: 1, max: 1 } });
      const store = postgresDialect.createStore({ knex: single, tables: s.tables, cluster: 'default', queryTimeout: 300 });
      const blocker = knexFactory({ ...DATABASES.postgres.config(), pool: { min: 0, max: 1 } });
      try {
        await store.resetCursor('r', await store.head());
        const from = (await store.loadCursor('r'))!.position;
        const errors: unknown[] = [];
        single.on('query-error', (err: unknown) => errors.push(err));
        await blocker.transaction(async (trx) => {
          await trx.raw(`lock table ?? in access exclusive mode`, [s.tables.instruction]);
          const started = performance.now();
          await assert.rejects(store.readPage('r', from, null, 100), (err: Error) => err.name === 'KnexTimeoutError');
          assert.ok(performance.now() - started < 10_000);
          // The cancelled statement is gone from the server, not still queued behind the lock.
          const waiting = rawRows(
            await trx.raw(
              `select count(*)::int as n from pg_stat_activity where query like '%with w as materialized%' and wait_event_type = 'Lock'`,
            ),
          );
          assert.equal(waiting[0]!.n, 0);
        });
        assert.equal(errors.length, 1, 'knex query-error listeners see the timeout');
        await s.store.insert([row('after')]);
        assert.deepEqual((await store.readPage('r', from, null, 100)).rows.map(labelOf), ['after']);
      } finally {
        await blocker.destroy();
        await single.destroy();
        await s.cleanup();
      }
    });
  });
});
