import { MIGRATIONS } from '../src/migrations/list.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import knexFactory, { type Knex } from 'knex';
import { migrate } from '../src/migrations/migrate.js';
import { dialectFor } from '../src/dialects/dialect.js';
import { mysqlDialect } from '../src/dialects/mysql/dialect.js';
import { addMysqlSequence, dropMysqlSequence } from '../migrations/001_instruction_log.js';
import type { InstructionStore, NewInstructionRow } from '../src/store/store.js';
import { tableNames, type TableNames } from '../src/store/tables.js';
import { availability, DATABASES, dropPrefixed, freshPrefix, MYSQL_URL } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const skip = await availability('mysql');

/** Polls `check` until it returns true; a condition, never a fixed sleep. */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const row = (tag: string): NewInstructionRow => ({
  json: JSON.stringify({ tag }),
  originated: 'test',
  originInstance: null,
  instructionCount: 1,
});
const tagOf = (json: string): string => (JSON.parse(json) as { tag: string }).tag;
const firstRow = (result: unknown): Record<string, unknown> => {
  const row = (result as [Array<Record<string, unknown>>])[0][0];
  if (!row) throw new Error('query returned no row');
  return row;
};

describe('mysql store', { skip }, () => {
  let knex: Knex;
  const cleanups: Array<() => Promise<void>> = [];

  before(() => {
    knex = knexFactory(DATABASES.mysql.config());
  });
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
    await knex.destroy();
  });

  /** A transaction rolled back at the end even when the test fails, so cleanup never waits on its locks. */
  async function transaction(): Promise<Knex.Transaction> {
    const trx = await knex.transaction();
    cleanups.unshift(async () => {
      if (!trx.isCompleted()) await trx.rollback().catch(() => undefined);
    });
    return trx;
  }

  async function setup(queryTimeout = 30_000): Promise<{ store: InstructionStore; t: TableNames; prefix: string }> {
    const prefix = freshPrefix();
    const t = tableNames(prefix);
    await migrate(knex, { tablePrefix: prefix });
    // dropPrefixed drops the instruction table (its trigger goes with it) and cache_sequence.
    cleanups.push(() => dropPrefixed(knex, prefix));
    return { store: mysqlDialect.createStore({ knex, tables: t, cluster: 'default', queryTimeout }), t, prefix };
  }

  /** A table shaped like the instruction table but without the trigger: the naive baseline. */
  async function plainCopy(t: TableNames): Promise<string> {
    const name = `${t.prefix}plain_instruction`;
    await knex.raw('create table ?? like ??', [name, t.instruction]);
    cleanups.push(async () => void (await knex.schema.dropTableIfExists(name)));
    return name;
  }

  async function threadId(trx: Knex.Transaction): Promise<number> {
    return Number(firstRow(await trx.raw('select connection_id() as id')).id);
  }

  /**
   * Waits until the write on `thread` is blocked behind another transaction. InnoDB's own view
   * (`innodb_trx`, LOCK WAIT) is the first witness; the process list is the second (the insert
   * still running after a second), because the InnoDB view is a cached snapshot that has been seen
   * to miss a waiting transaction on a loaded machine. Fails at once if the write finishes first.
   */
  async function waitUntilBlocked(thread: number, write: Promise<unknown>): Promise<void> {
    let settled = false;
    write.then(
      () => (settled = true),
      () => (settled = true),
    );
    const innodb = async () =>
      (
        await knex.raw('select trx_id, trx_state, trx_query from information_schema.innodb_trx where trx_mysql_thread_id = ?', [thread])
      )[0] as Array<Record<string, unknown>>;
    const processes = async () =>
      (await knex.raw('select command, state, time_ms, info from information_schema.processlist where id = ?', [thread]))[0] as Array<
        Record<string, unknown>
      >;
    try {
      await waitFor(
        `thread ${thread} to wait for the sequence lock`,
        async () => {
          if (settled)
            throw new Error(`the write on thread ${thread} finished without waiting for the transaction holding the sequence lock`);
          if ((await innodb()).some((r) => r.trx_state === 'LOCK WAIT')) return true;
          return (await processes()).some(
            (r) => r.command === 'Query' && Number(r.time_ms) >= 1000 && /^insert/i.test(String(r.info ?? '')),
          );
        },
        30_000,
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}; innodb_trx: ${JSON.stringify(await innodb())}; processlist: ${JSON.stringify(await processes())}`,
      );
    }
  }

  async function seqOf(t: TableNames, id: number): Promise<number> {
    return Number((await knex(t.instruction).where('id', id).first('seq')).seq);
  }

  /** Reads everything after `from`, page by page; returns tags in order and the final position. */
  async function readAll(store: InstructionStore, from: string, limit = 100): Promise<{ tags: string[]; position: string }> {
    const tags: string[] = [];
    let position = from;
    let token: string | null = null;
    do {
      const page = await store.readPage('reader', from, token, limit);
      tags.push(...page.rows.map((r) => tagOf(r.json)));
      if (page.position !== null) position = page.position;
      token = page.token;
    } while (token !== null);
    return { tags, position };
  }

  it('is chosen for mysql2 and declares a sequence cursor', async () => {
    assert.equal(dialectFor(knex), mysqlDialect);
    const { store } = await setup();
    assert.deepEqual({ ...store.capabilities }, { dialect: 'mysql', notify: false, serverCancel: true });
  });

  it('orders by commit: a later writer waits for the earlier one, and a reader never sees it first', async () => {
    const { store, t } = await setup();
    const trxA = await transaction();
    const [idA] = await store.insert([row('A')], trxA);
    const trxB = await transaction();
    const threadB = await threadId(trxB);
    const insertB = store.insert([row('B')], trxB);
    // B's insert blocks in the trigger on the sequence row that A holds until it finishes.
    await waitUntilBlocked(threadB, insertB);

    // A second reader polls throughout; it must never see B without A.
    let stop = false;
    const violations: string[][] = [];
    const watcher = (async () => {
      while (!stop) {
        const { tags } = await readAll(store, '0');
        if (tags.includes('B') && tags.join() !== 'A,B') violations.push(tags);
      }
    })();

    assert.deepEqual((await readAll(store, '0')).tags, []);
    await trxA.commit();
    const [idB] = await insertB;
    const afterA = await readAll(store, '0');
    assert.deepEqual(afterA.tags, ['A'], 'B is not committed yet');
    await trxB.commit();
    assert.deepEqual((await readAll(store, afterA.position)).tags, ['B'], 'the cursor saved after A still reaches B');
    stop = true;
    await watcher;

    assert.ok(idA! < idB!);
    const [seqA, seqB] = [await seqOf(t, idA!), await seqOf(t, idB!)];
    assert.ok(seqA < seqB, `seq A ${seqA} < seq B ${seqB}`);
    assert.deepEqual(violations, []);
    assert.equal(await store.head(), String(seqB));
  });

  it('without the trigger, an id cursor is overtaken and loses a row (the problem the sequence solves)', async () => {
    const { t } = await setup();
    const plain = await plainCopy(t);
    const values = (tag: string) => ({ json_instruction: JSON.stringify({ tag }), originated: 'test', instruction_count: 1 });
    const trxA = await transaction();
    const [idA] = await trxA(plain).insert(values('A'));
    const trxB = await transaction();
    const [idB] = await trxB(plain).insert(values('B')); // does not wait: no sequence lock
    await trxB.commit();
    const firstRead = await knex(plain).where('id', '>', 0).orderBy('id').pluck('id');
    assert.deepEqual(firstRead.map(Number), [idB], 'the reader sees B while A (smaller id) is still open');
    await trxA.commit();
    const cursor = Math.max(...firstRead.map(Number));
    const secondRead = await knex(plain).where('id', '>', cursor).pluck('id');
    assert.ok(idA! < idB!);
    assert.deepEqual(secondRead, [], `row A (id ${idA}) is never read by an id cursor`);
  });

  it('rollbacks leave no gap in seq and never appear; paging returns each row once, in order', async () => {
    const { store, t } = await setup();
    const committed: string[] = [];
    const rolledBack: string[] = [];
    const commitOne = async (tag: string) => {
      await store.insert([row(tag)]);
      committed.push(tag);
    };
    const rollBack = async (...tags: string[]) => {
      const trx = await knex.transaction();
      await store.insert(tags.map(row), trx);
      await trx.rollback();
      rolledBack.push(...tags);
    };
    await commitOne('c1');
    await rollBack('r1');
    await commitOne('c2');
    await rollBack('r2', 'r3');
    await commitOne('c3');
    await commitOne('c4');

    // A writer that waits behind one that then rolls back gets the rolled-back number.
    const trxA = await transaction();
    await store.insert([row('r4')], trxA);
    const trxB = await transaction();
    const threadB = await threadId(trxB);
    const insertB = store.insert([row('c5')], trxB);
    await waitUntilBlocked(threadB, insertB);
    await trxA.rollback();
    rolledBack.push('r4');
    await insertB;
    await trxB.commit();
    committed.push('c5');

    await store.insert([row('c6'), row('c7')]);
    committed.push('c6', 'c7');

    const seqs = (await knex(t.instruction).orderBy('seq').pluck('seq')).map(Number);
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7], 'gap-free');
    assert.equal(Number(firstRow(await knex.raw('select value from ??', [t.sequence])).value), 7);

    // Pages of 2 over 7 rows: 2, 2, 2, 1, each row once, in commit order, then nothing.
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor = '0';
    for (;;) {
      const page = await store.readPage('pager', cursor, null, 2);
      if (page.rows.length === 0) break;
      pageSizes.push(page.rows.length);
      seen.push(...page.rows.map((r) => tagOf(r.json)));
      assert.ok(page.position !== null);
      await store.saveCursor('pager', page.position);
      cursor = (await store.loadCursor('pager'))!.position;
    }
    assert.deepEqual(pageSizes, [2, 2, 2, 1]);
    assert.deepEqual(seen, committed);
    assert.ok(rolledBack.every((tag) => !seen.includes(tag)));
    assert.equal(cursor, '7');
    assert.deepEqual(await store.pending(cursor), { rows: 0, instructions: 0, oldest: null });

    // The token walk gives the same answer.
    assert.deepEqual((await readAll(store, '0', 2)).tags, committed);
  });

  it('stress: 8 writers with delays and rollbacks, 2 readers: nothing lost, duplicated or unexpected', async () => {
    const { store, t } = await setup();
    const side = `${t.prefix}side_effect`;
    await knex.schema.createTable(side, (table) => {
      table.increments('id');
      table.integer('writer').notNullable();
      table.integer('n').notNullable();
    });
    cleanups.push(async () => void (await knex.schema.dropTableIfExists(side)));

    const WRITERS = 8;
    const PER_WRITER = 150;
    const committed = new Set<string>();
    const rolledBack = new Set<string>();
    let writersDone = false;

    const writer = async (w: number) => {
      for (let n = 0; n < PER_WRITER; n++) {
        const tag = `${w}:${n}`;
        const rollback = Math.random() < 0.05;
        try {
          await knex.transaction(async (trx) => {
            await trx(side).insert({ writer: w, n });
            await store.insert([row(tag)], trx);
            await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 6)));
            if (rollback) throw new Error('rollback');
          });
          committed.add(tag);
        } catch (err) {
          if (!rollback) throw err;
          rolledBack.add(tag);
        }
      }
    };

    const reader = async (identity: string) => {
      const counts = new Map<string, number>();
      let cursor = '0'; // a fresh table
      for (;;) {
        const finalPoll = writersDone; // read before polling: this poll starts after the writers ended
        const page = await store.readPage(identity, cursor, null, 50);
        for (const r of page.rows) {
          const tag = tagOf(r.json);
          counts.set(tag, (counts.get(tag) ?? 0) + 1);
        }
        if (page.position !== null) {
          cursor = page.position;
          await store.saveCursor(identity, cursor);
        }
        if (page.rows.length === 0) {
          if (finalPoll) return counts;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    };

    // In every snapshot the committed seqs are exactly 1..max: no uncommitted number below a visible one.
    const holes: string[] = [];
    let snapshots = 0;
    const snapshotWatcher = (async () => {
      while (!writersDone) {
        const r = firstRow(await knex.raw('select coalesce(max(seq), 0) as m, count(*) as c from ??', [t.instruction]));
        if (Number(r.m) !== Number(r.c)) holes.push(`max ${r.m}, count ${r.c}`);
        const head = Number(await store.head());
        const covered = firstRow(await knex.raw('select count(*) as c from ?? where seq <= ?', [t.instruction, head]));
        if (Number(covered.c) !== head) holes.push(`head ${head} covers ${covered.c}`);
        snapshots += 1;
      }
    })();

    const started = Date.now();
    const readers = [reader('reader-1'), reader('reader-2')];
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
    writersDone = true;
    await snapshotWatcher;
    console.log(`# ${snapshots} snapshots checked, ${holes.length} with a hole`);
    assert.deepEqual(holes, []);
    const elapsed = Date.now() - started;
    for (const [i, counts] of (await Promise.all(readers)).entries()) {
      const lost = [...committed].filter((tag) => !counts.has(tag));
      const unexpected = [...counts.keys()].filter((tag) => !committed.has(tag));
      const duplicated = [...counts].filter(([, c]) => c > 1).map(([tag]) => tag);
      console.log(
        `# reader ${i + 1}: saw ${counts.size} of ${committed.size} committed (${rolledBack.size} rolled back) in ${elapsed} ` +
          `ms; lost=${lost.length} unexpected=${unexpected.length} duplicated=${duplicated.length}`,
      );
      assert.deepEqual({ lost, unexpected, duplicated }, { lost: [], unexpected: [], duplicated: [] });
    }
    assert.equal(committed.size + rolledBack.size, WRITERS * PER_WRITER);
    const seqs = (await knex(t.instruction).orderBy('seq').pluck('seq')).map(Number);
    assert.deepEqual(
      seqs,
      Array.from({ length: committed.size }, (_, i) => i + 1),
      'committed seqs are exactly 1..n',
    );
  });

  it('measures write throughput with the trigger against the same table without it', async () => {
    const { t } = await setup();
    const plain = await plainCopy(t);
    const CONNECTIONS = 8;
    const PER_CONNECTION = 150;
    const values = { json_instruction: '{"tag":"x"}', originated: 'bench', instruction_count: 1 };
    const side = `${t.prefix}bench_side`;
    await knex.schema.createTable(side, (table) => {
      table.increments('id');
      table.integer('n').notNullable();
    });
    cleanups.push(async () => void (await knex.schema.dropTableIfExists(side)));
    // autocommit: one INSERT; transaction: another table first, the instruction, then COMMIT,
    // so the sequence lock is also held across the COMMIT round trip, as for a real writer.
    const run = async (table: string, shape: 'autocommit' | 'transaction') => {
      const started = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: CONNECTIONS }, async () => {
          for (let i = 0; i < PER_CONNECTION; i++) {
            if (shape === 'autocommit') await knex(table).insert(values);
            else
              await knex.transaction(async (trx) => {
                await trx(side).insert({ n: i });
                await trx(table).insert(values);
              });
          }
        }),
      );
      return (CONNECTIONS * PER_CONNECTION) / (Number(process.hrtime.bigint() - started) / 1e9);
    };
    await run(plain, 'autocommit'); // warm up the pool and the buffer pool
    for (const shape of ['autocommit', 'transaction'] as const) {
      // Alternate, so drift on the machine hits both the same way.
      let trigger = 0;
      let baseline = 0;
      for (let round = 0; round < 2; round++) {
        trigger += await run(t.instruction, shape);
        baseline += await run(plain, shape);
      }
      console.log(
        `# mysql ${shape} writes, ${CONNECTIONS} connections: with sequence trigger ${(trigger / 2).toFixed(0)}/s, plain ` +
          `table ${(baseline / 2).toFixed(0)}/s, ratio ${(trigger / baseline).toFixed(2)}`,
      );
      assert.ok(trigger > 0 && baseline > 0);
    }
    const seqs = (await knex(t.instruction).orderBy('seq').pluck('seq')).map(Number);
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => i + 1),
    );
  });

  it('returns UTC dates when the session and the driver agree on a non-UTC zone', async () => {
    const { t } = await setup();
    const zoned = knexFactory({
      client: 'mysql2',
      connection: `${MYSQL_URL}?timezone=${encodeURIComponent('+05:00')}&supportBigNumbers=true`,
      pool: {
        min: 0,
        max: 2,
        afterCreate(conn: { query(sql: string, cb: (err: Error | null) => void): void }, done: (err: Error | null, conn: unknown) => void) {
          conn.query(`SET time_zone = '+05:00'`, (err) => done(err, conn));
        },
      },
    });
    try {
      const store = mysqlDialect.createStore({ knex: zoned, tables: t, cluster: 'default', queryTimeout: 10_000 });
      await store.insert([row('zoned')]);
      await store.saveCursor('zoned', '1');
      const [stored] = await store.newest(1);
      const now = await store.now();
      assert.ok(Math.abs(now.getTime() - Date.now()) < 60_000, `db now ${now.toISOString()}`);
      assert.ok(Math.abs(stored!.utcStamp.getTime() - now.getTime()) < 60_000, `stamp ${stored!.utcStamp.toISOString()}`);
      const cursor = await store.loadCursor('zoned');
      assert.ok(Math.abs(cursor!.lastSynced!.getTime() - now.getTime()) < 60_000, `last_synced ${cursor!.lastSynced!.toISOString()}`);
      // The UTC session reads the same instant.
      assert.equal((await knex(t.instruction).first('utc_stamp')).utc_stamp.getTime(), stored!.utcStamp.getTime());
    } finally {
      await zoned.destroy();
    }
  });

  it('polls and one-row writes run as prepared statements, seen by knex listeners, bounded by the query timeout', async () => {
    const { t } = await setup();
    const store = mysqlDialect.createStore({ knex, tables: t, cluster: 'default', queryTimeout: 300 });
    await store.resetCursor('r', '0');
    const seen: string[] = [];
    const onQuery = (q: { sql: string }) => seen.push(q.sql);
    knex.on('query', onQuery);
    try {
      const [id] = await store.insert([row('a')]);
      const page = await store.readPage('r', '0', null, 100);
      assert.deepEqual(
        page.rows.map((r) => r.id),
        [id],
      );
      assert.equal(seen.length, 2, 'one statement each');
    } finally {
      knex.off('query', onQuery);
    }
    // A writer holding the sequence lock makes the next one-row write wait in its trigger; past
    // queryTimeout the write is killed on the server and rejects, so a writer never hangs.
    const holder = await transaction();
    await holder(t.instruction).insert({ json_instruction: '{}', originated: 'holder', cluster: 'default' });
    await assert.rejects(store.insert([row('blocked')]), (err: Error) => err.name === 'KnexTimeoutError');
    await waitFor('the insert to leave the process list', async () => {
      const r = firstRow(
        await knex.raw(`select count(*) as n from information_schema.processlist where info like ? and id <> connection_id()`, [
          `insert into \`${t.instruction}\`%`,
        ]),
      );
      return Number(r.n) === 0;
    });
    await holder.rollback();
    assert.deepEqual(
      (await store.readPage('r', '0', null, 100)).rows.map((r) => tagOf(r.json)),
      ['a'],
      'the killed write left nothing behind',
    );
  });

  it('migrate() twice is a no-op, and 5 concurrent runs on a fresh prefix all succeed', async () => {
    const prefix = freshPrefix();
    cleanups.push(() => dropPrefixed(knex, prefix));
    assert.deepEqual(await migrate(knex, { tablePrefix: prefix }), { applied: MIGRATIONS.map((m) => m.name) });
    assert.deepEqual(await migrate(knex, { tablePrefix: prefix }), { applied: [] });

    const racing = freshPrefix();
    cleanups.push(() => dropPrefixed(knex, racing));
    const results = await Promise.all(Array.from({ length: 5 }, () => migrate(knex, { tablePrefix: racing })));
    assert.deepEqual(results.flatMap((r) => r.applied).sort(), MIGRATIONS.map((m) => m.name).sort());
    const t = tableNames(racing);
    const triggers = firstRow(
      await knex.raw('select count(*) as n from information_schema.triggers where trigger_schema = database() and event_object_table = ?', [
        t.instruction,
      ]),
    );
    // The sequence trigger of 001 and the two row-size triggers of 007, each created once by the five racing runs.
    assert.equal(Number(triggers.n), 3);
    const store = mysqlDialect.createStore({ knex, tables: t, cluster: 'default', queryTimeout: 10_000 });
    await store.insert([row('after-race')]);
    assert.deepEqual(await readAll(store, '0'), { tags: ['after-race'], position: '1' });
  });

  it('migration 001 dropMysqlSequence removes the trigger, the sequence table and the seq column', async () => {
    const { t } = await setup();
    await dropMysqlSequence(knex, t);
    assert.equal(await knex.schema.hasTable(t.sequence), false);
    assert.equal(await knex.schema.hasColumn(t.instruction, 'seq'), false);
    await knex(t.instruction).insert({ json_instruction: '{}', originated: 'x' }); // no trigger left to fail
    await knex(t.instruction).delete();
    await addMysqlSequence(knex, t);
    const store = mysqlDialect.createStore({ knex, tables: t, cluster: 'default', queryTimeout: 10_000 });
    await store.insert([row('again')]);
    assert.deepEqual((await readAll(store, '0')).tags, ['again']);
  });
});
