import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Knex } from 'knex';
import { migrate } from '../../src/migrations/migrate.js';
import { PENDING_BATCH } from '../../src/store/base-store.js';
import type { StoreConfig } from '../../src/store/store-config.js';
import type { InstructionStore, NewInstructionRow, StoredInstructionRow } from '../../src/store/store.js';
import { tableNames, type TableNames } from '../../src/store/tables.js';
import { dropPrefixed, freshPrefix } from '../support/databases.js';
import { waitFor } from '../support/wait.js';

/**
 * What one database needs to run the store conformance suite: about twenty lines per dialect
 * (test/store-conformance-*.test.ts). Everything else talks to the store interface only, so the
 * same assertions hold on every dialect, and an outside store could run them too.
 */
export interface StoreSuiteSpec {
  name: string;
  /** A skip reason (the database is unreachable), or false. */
  skip: string | false;
  createStore(config: StoreConfig): InstructionStore;
  /** Opens the database for one test. */
  open(): StoreDatabase;
  /**
   * Whether a second writer waits while a write transaction is open: SQLite has one writer at a
   * time, MySQL a commit-order lock. PostgreSQL lets it commit first.
   */
  secondWriterWaits: boolean;
  /** A value for a timestamp column `agoMs` before now, as this dialect stores it. */
  stamp(agoMs: number): unknown;
  /**
   * How many statements on `table` still wait on the server (for a lock); absent where a query
   * cannot be cancelled (better-sqlite3 runs queries synchronously, so no timer can interrupt one).
   */
  waitingOn?(knex: Knex, table: string): Promise<number>;
}

export interface StoreDatabase {
  knex: Knex;
  /** Another connection to the same database, to read while a write transaction is open on `knex`. */
  reader: Knex;
  close(): Promise<void>;
}

const row = (label: string, instructionCount = 1): NewInstructionRow => ({
  json: JSON.stringify({ label }),
  originated: 'test',
  originInstance: null,
  instructionCount,
});
const labelOf = (r: StoredInstructionRow): string => (JSON.parse(r.json) as { label: string }).label;
const HOUR = 3600_000;

interface Setup {
  knex: Knex;
  tables: TableNames;
  /** The store writers use. */
  store: InstructionStore;
  /** The same tables through the second connection. */
  reading: InstructionStore;
  storeWith(queryTimeout: number): InstructionStore;
  /** Runs `fn` when the test ends, before the tables are dropped (last registered, first run). */
  defer(fn: () => Promise<void>): void;
  /** Makes every row `agoMs` old. */
  age(agoMs?: number): Promise<void>;
}

/** The store conformance suite, for one dialect. */
export function storeSuite(spec: StoreSuiteSpec): void {
  async function setup(t: TestContext): Promise<Setup> {
    const db = spec.open();
    const prefix = freshPrefix();
    const tables = tableNames(prefix);
    const deferred: Array<() => Promise<void>> = [];
    t.after(async () => {
      for (const fn of deferred.reverse()) await fn();
      if (process.env.DISTCACHE_KEEP_TABLES !== '1') await dropPrefixed(db.knex, prefix);
      await db.close();
    });
    await migrate(db.knex, { tablePrefix: prefix });
    const storeWith = (queryTimeout: number, knex = db.knex) => spec.createStore({ knex, tables, cluster: 'default', queryTimeout });
    return {
      knex: db.knex,
      tables,
      store: storeWith(30_000),
      reading: storeWith(30_000, db.reader),
      storeWith,
      defer: (fn) => void deferred.push(fn),
      age: async (agoMs = HOUR) => void (await db.knex(tables.instruction).update({ utc_stamp: spec.stamp(agoMs) })),
    };
  }

  /** Reads one whole window from `from`, page by page, without storing anything. */
  async function readFrom(store: InstructionStore, identity: string, from: string, limit = 100) {
    const rows: StoredInstructionRow[] = [];
    let token: string | null = null;
    let position = from;
    for (;;) {
      const page = await store.readPage(identity, from, token, limit);
      rows.push(...page.rows);
      // A page's position, when there is one, may be stored once its rows are applied.
      if (page.position !== null) position = page.position;
      if (page.token === null) {
        return { rows, position };
      }
      assert.equal(page.rows.length, limit, 'a token only follows a full page');
      token = page.token;
    }
  }

  /** Reads one whole window from `identity`'s cursor and stores the position at its end. */
  async function readWindow(store: InstructionStore, identity: string, limit = 100) {
    const cursor = await store.loadCursor(identity);
    assert.ok(cursor, `${identity} has a cursor`);
    const window = await readFrom(store, identity, cursor.position, limit);
    await store.saveCursor(identity, window.position);
    return window;
  }

  describe(`store conformance: ${spec.name}`, { skip: spec.skip }, () => {
    test('interleaved commits: a row whose transaction commits after a later writer is still delivered, exactly once', async (t) => {
      const s = await setup(t);
      // Read through the second connection, storing nothing while A is open (on SQLite a write
      // there would wait for A's write lock).
      const start = await s.reading.head();
      const trxA = await s.knex.transaction();
      s.defer(async () => {
        if (!trxA.isCompleted()) await trxA.rollback().catch(() => undefined);
      });
      await s.store.insert([row('A')], trxA);
      let bCommitted = false;
      const writeB = s.store.insert([row('B')]).then(() => void (bCommitted = true));
      if (!spec.secondWriterWaits) await writeB;
      const first = await readFrom(s.reading, 'r', start);
      assert.deepEqual(first.rows.map(labelOf), spec.secondWriterWaits ? [] : ['B'], 'A is not committed yet');
      assert.equal(bCommitted, !spec.secondWriterWaits, spec.secondWriterWaits ? 'B waits for A' : 'B commits first');
      await trxA.commit();
      await writeB;
      const second = await readFrom(s.reading, 'r', first.position);
      const rest = spec.secondWriterWaits ? ['A', 'B'] : ['A'];
      assert.deepEqual(second.rows.map(labelOf), rest, 'the position read before A committed still reaches it');
      assert.deepEqual((await readFrom(s.reading, 'r', second.position)).rows, []);
    });

    test('8 writers with commit delays and rollbacks, 2 readers: nothing lost, nothing unexpected, nothing duplicated', async (t) => {
      const s = await setup(t);
      const side = `${s.tables.prefix}app_data`;
      await s.knex.schema.createTable(side, (table) => {
        table.increments('id');
        table.string('v', 32);
      });
      const committed = new Set<string>();
      const rolledBack = new Set<string>();
      class Rollback extends Error {}
      let writersDone = false;
      const readers = ['reader-a', 'reader-b'];
      // Readers share the writers' connection pool: on SQLite a second connection's cursor write
      // would wait synchronously for a writer's lock.
      for (const r of readers) await s.store.resetCursor(r, await s.store.head());

      const writer = async (w: number) => {
        for (let i = 0; i < 60; i++) {
          const label = `w${w}-${i}`;
          const rollback = Math.random() < 0.05;
          try {
            await s.knex.transaction(async (trx) => {
              await trx(side).insert({ v: label });
              await s.store.insert([row(label)], trx);
              await delay(Math.random() * 4); // so commits interleave with ids and with reads
              if (rollback) throw new Rollback();
            });
            committed.add(label);
          } catch (err) {
            if (!(err instanceof Rollback)) throw err;
            rolledBack.add(label);
          }
        }
      };
      const read = async (identity: string) => {
        const seen = new Map<string, number>();
        for (;;) {
          const last = writersDone; // a window that starts after the writers finished drains everything
          for (const r of (await readWindow(s.store, identity, 25)).rows) seen.set(labelOf(r), (seen.get(labelOf(r)) ?? 0) + 1);
          if (last) return seen;
          await delay(1);
        }
      };
      const reading = readers.map(read);
      await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
      writersDone = true;
      for (const [i, seen] of (await Promise.all(reading)).entries()) {
        const lost = [...committed].filter((l) => !seen.has(l));
        const unexpected = [...seen.keys()].filter((l) => !committed.has(l));
        const duplicated = [...seen].filter(([, n]) => n > 1).map(([l]) => l);
        const counts = `lost=${lost.length} unexpected=${unexpected.length} duplicated=${duplicated.length}`;
        t.diagnostic(`${readers[i]}: committed=${committed.size} rolledBack=${rolledBack.size} ${counts}`);
        assert.deepEqual({ lost, unexpected, duplicated }, { lost: [], unexpected: [], duplicated: [] });
      }
      assert.ok(rolledBack.size > 0, 'some transactions rolled back');
    });

    test('rollbacks never appear; paging returns each committed row once, in commit order, the position on the last page', async (t) => {
      const s = await setup(t);
      await s.store.resetCursor('pager', await s.store.head());
      const committed: string[] = [];
      const rollBack = async (...labels: string[]) => {
        const trx = await s.knex.transaction();
        await s.store.insert(
          labels.map((l) => row(l)),
          trx,
        );
        await trx.rollback();
      };
      for (const [i, step] of ['c', 'r', 'c', 'rr', 'c', 'c', 'cc', 'r', 'c'].entries()) {
        const labels = [...step].map((kind, j) => `${kind}${i}.${j}`);
        if (step.startsWith('r')) await rollBack(...labels);
        else {
          await s.store.insert(labels.map((l) => row(l)));
          committed.push(...labels);
        }
      }
      const window = await readWindow(s.store, 'pager', 2);
      assert.deepEqual(window.rows.map(labelOf), committed);
      assert.deepEqual(await s.store.pending(window.position), { rows: 0, instructions: 0, oldest: null });
      assert.deepEqual((await readWindow(s.store, 'pager', 2)).rows, [], 'nothing twice');
    });

    test('pending() and listPending() agree with what readPage() then returns', async (t) => {
      const s = await setup(t);
      const from = await s.store.head();
      const ids = [...(await s.store.insert([row('p1', 1), row('p2', 2)])), ...(await s.store.insert([row('p3', 3)]))];
      const open = await s.knex.transaction();
      s.defer(async () => {
        if (!open.isCompleted()) await open.rollback().catch(() => undefined);
      });
      const [openId] = await s.store.insert([row('open', 10)], open);

      const pending = await s.reading.pending(from);
      const counted = { rows: pending.rows, instructions: pending.instructions };
      assert.deepEqual(counted, { rows: 3, instructions: 6 }, 'the open transaction is not pending yet');
      assert.ok(pending.oldest instanceof Date);
      const listed = await s.reading.listPending(from, 100);
      assert.deepEqual(
        listed.map((r) => r.id),
        ids,
      );
      assert.deepEqual(
        (await s.reading.listPending(from, 2)).map((r) => r.id),
        ids.slice(0, 2),
      );
      const window = await readFrom(s.reading, 'r', from);
      assert.deepEqual(window.rows, listed);

      await open.commit();
      const oldest = (await s.reading.getRow(openId!))!.utcStamp;
      assert.deepEqual(await s.reading.pending(window.position), { rows: 1, instructions: 10, oldest });
      assert.deepEqual(
        (await s.reading.listPending(window.position, 100)).map((r) => r.id),
        [openId],
      );
      const next = await readFrom(s.reading, 'r', window.position);
      assert.deepEqual(
        next.rows.map((r) => r.id),
        [openId],
      );
      assert.deepEqual(await s.reading.pending(next.position), { rows: 0, instructions: 0, oldest: null });
    });

    test('pendingMany() counts every position as pending() does, in one statement per PENDING_BATCH positions', async (t) => {
      const s = await setup(t);
      // One more distinct position than a statement takes: each row written moves the head.
      const positions = [await s.store.head()];
      for (let i = 0; i < PENDING_BATCH; i++) {
        await s.store.insert([row(`m${i}`, 1 + (i % 3))]);
        positions.push(await s.store.head());
      }
      assert.equal(new Set(positions).size, PENDING_BATCH + 1, 'every position is another');
      const statements: string[] = [];
      // Statements that read the log (PostgreSQL wraps its one in a transaction, to turn JIT off for it).
      const count = (q: { sql: string }) => void (q.sql.includes(s.tables.instruction) && statements.push(q.sql));
      s.knex.on('query', count);
      t.after(() => void s.knex.removeListener('query', count));
      const first = await s.store.pendingMany([...positions.slice(0, 200), positions[7]!]);
      assert.equal(statements.length, 1, "200 servers' positions (and a duplicate) in one statement");
      assert.equal(first.size, 200);
      const all = await s.store.pendingMany(positions);
      assert.equal(statements.length, 3, `${PENDING_BATCH + 1} positions in two statements`);
      s.knex.removeListener('query', count);
      for (const [k, position] of positions.entries()) {
        const one = await s.store.pending(position);
        assert.deepEqual(all.get(position), one, `position ${k}`);
        assert.equal(one.rows, PENDING_BATCH - k);
      }
      assert.deepEqual(await s.reading.pendingMany([]), new Map());
    });

    test('a row inserted by plain SQL naming only the payload columns is read, with a database timestamp', async (t) => {
      const s = await setup(t);
      await s.store.insert([row('first')]);
      await s.store.resetCursor('r', await s.store.head());
      await s.knex.raw('INSERT INTO ?? (json_instruction, originated, instruction_count) VALUES (?, ?, ?)', [
        s.tables.instruction,
        '{"label":"plain"}',
        'legacy-app',
        3,
      ]);
      const { rows } = await readWindow(s.store, 'r');
      const read = rows.map((r) => [labelOf(r), r.originated, r.instructionCount, r.originInstance]);
      assert.deepEqual(read, [['plain', 'legacy-app', 3, null]]);
      const now = await s.store.now();
      assert.ok(Math.abs(now.getTime() - Date.now()) < 60_000, `the database clock ${now.toISOString()} is UTC`);
      const stamp = rows[0]!.utcStamp.getTime();
      const said = `${rows[0]!.utcStamp.toISOString()} shortly before ${now.toISOString()}`;
      assert.ok(stamp <= now.getTime() + 5 && now.getTime() - stamp < 60_000, said);
    });

    test('pruneChunk marks exactly the cursors that had not read a doomed row, keeps the newest row, respects coveredBy', async (t) => {
      const s = await setup(t);
      const pos = [await s.store.head()];
      const ids: number[] = [];
      for (let i = 1; i <= 6; i++) {
        ids.push(...(await s.store.insert([row(`r${i}`)])));
        pos.push(await s.store.head()); // pos[i] covers r1..ri
      }
      await s.store.resetCursor('at-0', pos[0]!);
      await s.store.resetCursor('at-2', pos[2]!);
      await s.store.resetCursor('at-5', pos[5]!);
      await s.store.resetCursor('current', pos[6]!);
      await s.store.resetCursor('flagged', pos[0]!);
      await s.store.requestColdBoot('flagged');
      await s.age();

      assert.deepEqual(await s.store.prunePreview({ olderThanMs: HOUR / 2 }), { rows: 5, minId: ids[0], maxId: ids[4] });
      const covered = [pos[2]!, pos[5]!];
      const firstTwo = { rows: 2, minId: ids[0], maxId: ids[1] };
      assert.deepEqual(await s.store.prunePreview({ olderThanMs: HOUR / 2, coveredBy: covered }), firstTwo);
      const none = { rows: 0, minId: null, maxId: null };
      assert.deepEqual(await s.store.prunePreview({ olderThanMs: 2 * HOUR }), none, 'younger than the cutoff');

      // Only what 'at-2' has read (r1, r2): only 'at-0' had not ('flagged' already is).
      const coveredChunk = await s.store.pruneChunk({ olderThanMs: HOUR / 2, limit: 100, coveredBy: covered });
      assert.deepEqual(coveredChunk, { deleted: 2, marked: ['at-0'] });
      // r3..r5, not the newest: 'at-2' had not read them; 'at-5' had.
      assert.deepEqual(await s.store.pruneChunk({ olderThanMs: HOUR / 2, limit: 100 }), { deleted: 3, marked: ['at-2'] });
      assert.deepEqual(await s.store.pruneChunk({ olderThanMs: HOUR / 2, limit: 100 }), { deleted: 0, marked: [] });
      assert.deepEqual((await s.store.newest(10)).map(labelOf), ['r6'], 'the newest row stays');
      const flags = Object.fromEntries((await s.store.listCursors()).map((c) => [c.identity, c.coldBootRequested]));
      assert.deepEqual(flags, { 'at-0': true, 'at-2': true, 'at-5': false, current: false, flagged: true });
      assert.equal((await s.store.readPage('at-2', pos[2]!, null, 10)).coldBootRequested, true, 'the flag arrives with the next page read');

      // Once r6 is no longer the newest it goes ('at-5' had not read it); a recent row is not old enough.
      await s.store.insert([row('r7')]);
      assert.deepEqual(await s.store.pruneChunk({ olderThanMs: HOUR / 2, limit: 100 }), { deleted: 1, marked: ['at-5'] });
      await s.store.insert([row('r8')]);
      assert.deepEqual(await s.store.pruneChunk({ olderThanMs: HOUR / 2, limit: 100 }), { deleted: 0, marked: [] });
      const summary = await s.store.logSummary(HOUR / 2);
      assert.deepEqual([summary.rows, summary.pastRetention], [2, 0]);
    });

    test('a cursor strictly inside one prune chunk is marked: the chunk deletes rows it read and rows it had not', async (t) => {
      const s = await setup(t);
      const pos = [await s.store.head()];
      for (let i = 1; i <= 6; i++) {
        await s.store.insert([row(`r${i}`)]);
        pos.push(await s.store.head());
      }
      // The chunk of 4 deletes r1..r4. 'inside' (at r3) read r1..r3 but not r4: marking by the
      // chunk's lowest position instead of its highest would leave it unmarked, and it would
      // come back and silently miss r4.
      await s.store.resetCursor('below', pos[0]!);
      await s.store.resetCursor('at-low', pos[1]!);
      await s.store.resetCursor('inside', pos[3]!);
      await s.store.resetCursor('at-top', pos[4]!);
      await s.age();
      const first = await s.store.pruneChunk({ olderThanMs: HOUR / 2, limit: 4 });
      assert.deepEqual({ deleted: first.deleted, marked: [...first.marked].sort() }, { deleted: 4, marked: ['at-low', 'below', 'inside'] });
      assert.deepEqual(await s.store.pruneChunk({ olderThanMs: HOUR / 2, limit: 4 }), { deleted: 1, marked: ['at-top'] });
      assert.equal((await s.store.readPage('inside', pos[3]!, null, 10)).coldBootRequested, true);
    });

    test('several servers pruning at once delete each row once and mark a cursor once', async (t) => {
      const s = await setup(t);
      await s.store.resetCursor('behind', await s.store.head());
      await s.store.insert(Array.from({ length: 40 }, (_, i) => row(`r${i}`)));
      await s.age();
      const pruner = async () => {
        const results = [];
        for (;;) {
          const result = await s.store.pruneChunk({ olderThanMs: HOUR / 2, limit: 4 });
          if (result.deleted === 0) return results;
          results.push(result);
        }
      };
      const all = (await Promise.all([pruner(), pruner(), pruner(), pruner()])).flat();
      assert.equal(
        all.reduce((n, r) => n + r.deleted, 0),
        39,
      );
      assert.deepEqual(
        all.flatMap((r) => r.marked),
        ['behind'],
      );
      assert.equal((await s.store.logSummary(HOUR / 2)).rows, 1);
    });

    test('cursors: saveCursor keeps a cold-boot request, resetCursor clears it; a first page reads the flag in one query', async (t) => {
      const s = await setup(t);
      const head = await s.store.head();
      const state = async (identity: string) => {
        const cursor = await s.store.loadCursor(identity);
        return [cursor?.position, cursor?.coldBootRequested];
      };
      assert.equal(await s.store.loadCursor('a'), undefined);
      assert.equal(await s.store.requestColdBoot('a'), false, 'no cursor to mark');
      assert.equal((await s.store.readPage('a', head, null, 10)).coldBootRequested, null, 'no cursor: null');
      await s.store.saveCursor('a', head);
      const saved = await s.store.loadCursor('a');
      assert.equal(saved?.position, head);
      assert.equal(saved?.coldBootRequested, false);
      const now = (await s.store.now()).getTime();
      assert.ok(Math.abs(saved!.lastSynced!.getTime() - now) < 60_000, 'last_synced by the database clock');

      assert.equal(await s.store.requestColdBoot('a'), true);
      assert.equal(await s.store.requestColdBoot('a'), true, 'an unchanged row still counts as found');
      await s.store.insert([row('x')]);
      const after = await s.store.head();
      await s.store.saveCursor('a', after);
      assert.deepEqual(await state('a'), [after, true], 'saved, and still requested');

      let queries = 0;
      const count = () => queries++;
      s.knex.on('query', count);
      try {
        const page = await s.store.readPage('a', after, null, 10);
        assert.equal(queries, 1, 'a first page is one query, flag included');
        assert.deepEqual([page.rows, page.coldBootRequested], [[], true]);
      } finally {
        s.knex.off('query', count);
      }
      await s.store.resetCursor('a', head);
      assert.deepEqual(await state('a'), [head, false], 'reset, and the request cleared');
      assert.deepEqual((await readWindow(s.store, 'a')).rows.map(labelOf), ['x']);

      await s.store.resetCursor('b', head);
      assert.deepEqual(
        (await s.store.listCursors()).map((c) => c.identity),
        ['a', 'b'],
      );
      assert.equal(await s.store.deleteCursor('b'), true);
      assert.equal(await s.store.deleteCursor('b'), false);
      assert.deepEqual(
        (await s.store.listCursors()).map((c) => c.identity),
        ['a'],
      );
    });

    const cannotCancel = spec.waitingOn ? false : `${spec.name} runs queries synchronously: nothing can interrupt one`;
    const blocked = 'a query blocked past queryTimeout is cancelled on the server and rejects with a timeout; nothing of it is applied';
    test(blocked, { skip: cannotCancel }, async (t) => {
      const s = await setup(t);
      const store = s.storeWith(300);
      await store.resetCursor('locked', await store.head());
      const holder = await s.knex.transaction();
      try {
        await holder(s.tables.cursor).where({ cluster: 'default', server_identity: 'locked' }).forUpdate().select('*');
        const started = performance.now();
        await assert.rejects(store.requestColdBoot('locked'), (err: Error) => err.name === 'KnexTimeoutError');
        assert.ok(performance.now() - started < 10_000);
        // Cancelled on the server, not left queued behind the lock.
        const waiting = async () => (await spec.waitingOn!(s.knex, s.tables.cursor)) === 0;
        await waitFor(waiting, { describe: () => 'the update still waits on the server' });
      } finally {
        await holder.commit();
      }
      assert.equal((await store.loadCursor('locked'))!.coldBootRequested, false);
    });
  });
}
