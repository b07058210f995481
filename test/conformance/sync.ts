import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backdate, failures, harness, rowIds } from './harness.js';
import { recorder } from '../support/recorder.js';
import { waitFor } from '../support/wait.js';
import type { DialectName } from '../support/databases.js';
import { silentLoggerForTests, tableNames, type ColdBootReason } from './exports.js';
import { dialectFor } from '../../src/dialects/dialect.js';
import { Pruner } from '../../src/cluster/pruner.js';
import { TypedEmitter } from '../../src/events.js';

/** Cold boots, failures, malformed rows, paging and pruning. */
export function syncTests(dialect: DialectName): void {
  test('a server with no cursor cold-boots when the log has rows, and jumps to the head', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    await a.refresh('product', [1]);
    const onB = recorder();
    const member = recorder('member');
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB, member] });
    const boots: ColdBootReason[] = [];
    const results: Array<ColdBootReason | null> = [];
    b.on('server:cold-boot', (e) => boots.push(e.reason));
    b.on('sync:complete', (e) => results.push(e.coldBoot));
    await b.start();
    assert.deepEqual(boots, ['no-cursor']);
    assert.deepEqual(results, ['no-cursor'], 'the sync result says it cold-booted');
    assert.deepEqual(onB.calls, [{ kind: 'refresh-all' }]);
    assert.deepEqual(member.calls, [{ kind: 'refresh-all' }]);
    const next = await b.sync();
    assert.equal(next.rows, 0, 'the rows before the cold boot are not replayed');
    await a.refresh('product', [2]);
    await b.sync();
    assert.deepEqual(onB.refreshedIds(), [2]);
  });

  test('a fresh install with an empty log is not a cold boot', async (t) => {
    const h = await harness(t, dialect);
    const onB = recorder();
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB] });
    let boots = 0;
    b.on('server:cold-boot', () => boots++);
    await b.start();
    assert.equal(boots, 0);
    assert.deepEqual(onB.calls, []);
  });

  test('startFromHead skips the replay without a cold boot', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    await a.refresh('product', [1]);
    const onB = recorder();
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB], startFromHead: true });
    let boots = 0;
    b.on('server:cold-boot', () => boots++);
    await b.start();
    await a.refresh('product', [2]);
    await b.sync();
    assert.equal(boots, 0);
    assert.deepEqual(onB.calls, [{ kind: 'refresh', ids: [2] }]);
  });

  const backlogTest =
    'a backlog over maxPendingInstructions for one refresher (decoded, not the stored count) reloads that refresher; more rows cold-boot';
  test(backlogTest, async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder(), recorder('other')] });
    const onB = recorder();
    const other = recorder('other');
    const hook: ColdBootReason[] = [];
    const b = h.cache({
      serverIdentity: 'b',
      refreshers: [onB, other],
      maxPendingInstructions: 5,
      pageSize: 2,
      onColdBoot: ({ reason }) => void hook.push(reason),
    });
    await b.start();
    await a.refresh('product', [1, 2, 3]);
    await a.refresh('product', [4, 5]);
    assert.equal((await b.sync()).coldBoot, null, 'five instructions in two rows is not too many');
    await a.refresh('product', [1, 2, 3, 4, 5, 6]);
    await a.refresh('other', [9]);
    assert.equal((await b.sync()).coldBoot, null);
    assert.deepEqual(onB.calls.at(-1), { kind: 'refresh-all' }, 'six ids for one refresher: that refresher is reloaded');
    assert.deepEqual(other.calls, [{ kind: 'refresh', ids: [9] }], 'the other refresher is not');
    assert.deepEqual(hook, []);
    for (let i = 0; i < 6; i++) await a.refresh('product', [i + 100]);
    const paged = await b.sync();
    assert.equal(paged.coldBoot, 'too-far-behind', 'a full first page counts the backlog in rows: 6 > 5');
    assert.deepEqual(hook, ['too-far-behind'], 'onColdBoot replaces refreshAll()');
  });

  test('a requested resync makes the server cold-boot at its next poll', async (t) => {
    const h = await harness(t, dialect);
    const onB = recorder();
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB] });
    await b.start();
    assert.equal(await b.store.requestColdBoot('b'), true);
    assert.equal(await b.store.requestColdBoot('nobody'), false);
    assert.equal((await b.sync()).coldBoot, 'requested');
    assert.equal((await b.sync()).coldBoot, null, 'the request is cleared by the cold boot');
  });

  // The cursor a cold boot stores must be the head taken *before* the caches reload: a row another
  // server commits while they reload is then read by the next poll. A head taken after would lie
  // past that row, and it would be lost for good.
  for (const hook of ['onColdBoot', 'refreshAll'] as const) {
    for (const reason of ['no-cursor', 'requested'] as const) {
      const where = hook === 'onColdBoot' ? 'in onColdBoot' : 'in the default refreshAll()';
      test(`a row committed during a cold boot (${reason}, ${where}) is delivered by the next poll`, async (t) => {
        const h = await harness(t, dialect);
        const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
        await a.refresh('product', [1]);
        let during = 0;
        const commitElsewhere = async () => {
          during += 1;
          await a.refresh('product', [99]);
        };
        const onCall = (call: { kind: string }) => (hook === 'refreshAll' && call.kind === 'refresh-all' ? commitElsewhere() : undefined);
        const onB = recorder('product', { onCall });
        const b = h.cache({ serverIdentity: 'b', refreshers: [onB], ...(hook === 'onColdBoot' ? { onColdBoot: commitElsewhere } : {}) });
        const boots: ColdBootReason[] = [];
        b.on('server:cold-boot', (e) => boots.push(e.reason));
        if (reason === 'requested') {
          // b first catches up without a cold boot, then an operator asks for one.
          await b.store.resetCursor('b', await b.store.head());
          await b.start();
          assert.equal(await b.store.requestColdBoot('b'), true);
          assert.equal((await b.sync()).coldBoot, 'requested');
        } else {
          await b.start();
        }
        assert.deepEqual(boots, [reason]);
        assert.equal(during, 1, 'the other server committed while b reloaded');
        assert.deepEqual(onB.refreshedIds(), [], 'nothing delivered yet');
        const next = await b.sync();
        assert.equal(next.coldBoot, null);
        assert.deepEqual(onB.refreshedIds(), [99], 'the row committed during the cold boot arrives with the next poll');
      });
    }
  }

  test('pages are read at once until the backlog is drained, in order', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const onB = recorder();
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB], pageSize: 3 });
    await b.start();
    for (let i = 0; i < 10; i++) {
      await a.remove('product', [i]);
      await a.refresh('product', [i]);
    }
    const result = await b.sync();
    assert.equal(result.rows, 20);
    assert.deepEqual(
      onB.refreshedIds(),
      Array.from({ length: 10 }, (_, i) => i),
    );
    // Per id, the remove always comes before the refresh, whichever page it was read in.
    const seen = new Map<unknown, string[]>();
    for (const call of onB.calls)
      if (call.kind !== 'refresh-all' && call.kind !== 'payload')
        for (const id of call.ids) seen.set(id, [...(seen.get(id) ?? []), call.kind]);
    for (const steps of seen.values()) assert.deepEqual(steps, ['remove', 'refresh']);
  });

  test('a backlog coalesces across pages: 300 rows refreshing one id cost one refresher call', async (t) => {
    const h = await harness(t, dialect);
    const onB = recorder();
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB], pageSize: 10, maxPendingInstructions: 10_000 });
    await b.start();
    await h.knex.batchInsert(
      h.table('cache_instruction'),
      Array.from({ length: 300 }, () => ({
        json_instruction: JSON.stringify({ v: 1, instructions: [{ refresher: 'product', kind: 'refresh', ids: [7] }] }),
        originated: 'bulk',
        instruction_count: 1,
      })),
      100,
    );
    const result = await b.sync();
    assert.equal(result.rows, 300);
    assert.deepEqual(onB.calls, [{ kind: 'refresh', ids: [7] }]);
  });

  test('a refresher that throws once is retried; one that always throws falls back to refreshAll, recorded', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder(), recorder('flaky'), recorder('broken'), recorder('doomed')] });
    let flakyFailures = 1;
    const flaky = recorder('flaky', {
      onCall: () => {
        if (flakyFailures-- > 0) throw new Error('transient');
      },
    });
    const broken = recorder('broken', {
      onCall: (call) => {
        if (call.kind === 'refresh') throw new Error('always');
      },
    });
    const doomed = recorder('doomed', {
      onCall: () => {
        throw new Error('everything fails');
      },
    });
    const onB = recorder();
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB, flaky, broken, doomed], refresherRetries: 2 });
    await b.start();
    await a.batch(async () => {
      await a.refresh('flaky', [1]);
      await a.refresh('broken', [2]);
      await a.refresh('doomed', [3]);
      await a.refresh('product', [4]);
    });
    const failed: string[] = [];
    b.on('instruction:failed', (e) => failed.push(`${e.refresher}:${e.action}`));
    const result = await b.sync();
    assert.equal(result.rows, 1);
    assert.deepEqual(flaky.calls, [{ kind: 'refresh', ids: [1] }], 'succeeds on retry');
    assert.deepEqual(broken.calls, [{ kind: 'refresh-all' }], 'fell back');
    assert.deepEqual(onB.calls, [{ kind: 'refresh', ids: [4] }], 'the rest of the row is applied');
    assert.deepEqual(failed.sort(), ['broken:fell-back-to-refresh-all', 'doomed:gave-up']);
    const recorded = await failures(h);
    assert.deepEqual(recorded.map((f) => `${f.refresher}:${f.action}`).sort(), ['broken:fell-back-to-refresh-all', 'doomed:gave-up']);
    const [rowId] = await rowIds(h);
    assert.ok(recorded.every((f) => Number(f.instruction_id) === rowId && f.server_identity === 'b'));
    assert.equal((await b.sync()).rows, 0, 'the cursor moved on');
  });

  test('a refresher that hangs is cut off by refresherTimeout and falls back', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const hanging = recorder('product', { onCall: (call) => (call.kind === 'refresh' ? new Promise<void>(() => undefined) : undefined) });
    const b = h.cache({ serverIdentity: 'b', refreshers: [hanging], refresherTimeout: 50, refresherRetries: 1 });
    await b.start();
    await a.refresh('product', [1]);
    await b.sync();
    assert.deepEqual(hanging.calls, [{ kind: 'refresh-all' }]);
    const recorded = await failures(h);
    assert.equal(recorded.length, 1);
    assert.match(String(recorded[0]!.error), /refresherTimeout/);
  });

  const badRowTest =
    'a bad row or instruction costs only itself: one refreshAll() per refresher it may concern, recorded once with its row id';
  test(badRowTest, async (t) => {
    const h = await harness(t, dialect);
    const onB = recorder();
    const other = recorder('other');
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB, other] });
    await b.start();
    const insert = (json: string) =>
      h.knex.raw(`INSERT INTO ${h.table('cache_instruction')} (json_instruction, originated, instruction_count) VALUES (?, 'sql', 1)`, [
        json,
      ]);
    const doc = (...instructions: unknown[]) => JSON.stringify({ v: 1, instructions });
    await insert(doc({ refresher: 'product', kind: 'refresh', ids: [1] }));
    await insert('{not json'); // names nothing readable: every refresher reloads
    await insert('{"v":1,"instructions":[{"refresher":"other"'); // truncated: what it named cannot be known
    await insert(
      doc({ refresher: 'product', kind: 'payload', payloads: [{}] }).replace(
        '"payloads":[{}]',
        '"payloads":[{"__proto__":{"polluted":1}}]',
      ),
    );
    await insert(doc({ refresher: 'ghost', kind: 'refresh', ids: [9] }, { refresher: 'product', kind: 'refresh', ids: [2] }));
    await insert(
      doc(
        { refresher: 'product', kind: 'refresh', ids: [4] },
        { refresher: 'other', kind: 'refresh', ids: [null] },
        { refresher: 'product', kind: 'remove', ids: [5] },
      ),
    );
    await insert(doc({ refresher: 'product', kind: 'refresh', ids: [3] }));
    const malformed: Array<{ rowId: number; index: number | null; refreshAll: string[] }> = [];
    b.on('instruction:malformed', (e) => malformed.push({ rowId: e.rowId, index: e.index, refreshAll: e.refreshAll }));
    const result = await b.sync();
    assert.equal(result.malformed, 3);
    // The refresh-all replaces what came before it; what follows it is applied as written.
    assert.deepEqual(onB.calls, [
      { kind: 'refresh-all' },
      { kind: 'payload', payloads: [JSON.parse('{"__proto__":{"polluted":1}}')] },
      { kind: 'refresh', ids: [2, 4, 3] },
      { kind: 'remove', ids: [5] },
    ]);
    const payload = (onB.calls[1] as { payloads: object[] }).payloads[0]!;
    assert.deepEqual(Object.keys(payload), ['__proto__'], 'a __proto__ key arrives as an own data property');
    assert.equal(Object.getPrototypeOf(payload), Object.prototype);
    assert.deepEqual(other.calls, [{ kind: 'refresh-all' }], 'three bad rows and instructions for it, one refreshAll()');
    const ids = await rowIds(h);
    assert.deepEqual(malformed, [
      { rowId: ids[1], index: null, refreshAll: ['product', 'other'] },
      { rowId: ids[2], index: null, refreshAll: ['product', 'other'] },
      { rowId: ids[5], index: 1, refreshAll: ['other'] },
    ]);
    const recorded = (await failures(h))
      .map((f) => [Number(f.instruction_id), f.action, f.refresher])
      .sort((x, y) => Number(x[0]) - Number(y[0]));
    assert.deepEqual(recorded, [
      [ids[1], 'skipped-malformed-row', null],
      [ids[2], 'skipped-malformed-row', null],
      [ids[4], 'skipped-unknown-refresher', 'ghost'],
      [ids[5], 'skipped-malformed-instruction', 'other'],
    ]);
    await b.sync();
    assert.equal((await failures(h)).length, 4, 'each bad row is recorded exactly once');
  });

  test('prune deletes expired rows in chunks, keeps the newest, and a server it passed cold-boots', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()], pruneChunkSize: 2 });
    const onB = recorder();
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB] });
    await b.start();
    for (let i = 0; i < 7; i++) await a.refresh('product', [i]);
    await backdate(h, 'all');
    const before = await rowIds(h);
    const results = await Promise.all([a.prune(), a.prune(), b.prune()]);
    const deleted = results.reduce((n, r) => n + r.deleted, 0);
    assert.ok(deleted >= 6 && results[0]!.deleted >= 6 - results[2]!.deleted, `deleted ${deleted}`);
    assert.deepEqual(await rowIds(h), [before[before.length - 1]], 'the newest row stays');
    assert.ok(
      results.some((r) => r.marked.includes('b')),
      'b had not read the deleted rows',
    );
    const boots: ColdBootReason[] = [];
    b.on('server:cold-boot', (e) => boots.push(e.reason));
    await b.sync();
    assert.deepEqual(boots, ['requested']);
    assert.deepEqual(onB.calls, [{ kind: 'refresh-all' }]);
    assert.equal((await a.prune()).deleted, 0);
  });

  test('wake-up polls store the cursor at most once per interval; sync() and stop() store it at once', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const onB = recorder();
    // A long interval: within this test only wake-ups, sync() and stop() poll.
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB], syncInterval: 60_000 });
    await b.start();
    const stored = async () => String((await h.knex(h.table('cache_cursor')).where({ server_identity: 'b' }).first())?.position);
    const poller = (b as unknown as { poller: { wake(): void; appliedPosition: string | undefined } }).poller;
    const applied = () => String(poller.appliedPosition);
    const atStart = await stored();
    let saves = 0;
    const onQuery = (q: { sql: string; bindings?: unknown[] }) => {
      if (/^update\b/i.test(q.sql) && q.sql.includes(h.table('cache_cursor')) && (q.bindings ?? []).includes('b')) saves += 1;
    };
    h.knex.on('query', onQuery);
    const wake = () => poller.wake();
    for (let i = 1; i <= 5; i++) {
      await a.refresh('product', [i]);
      wake();
      await waitFor(() => onB.refreshedIds().includes(i), { describe: () => JSON.stringify(onB.calls) });
    }
    assert.equal(saves, 0, 'five wake-ups within one interval: no cursor write');
    assert.equal(await stored(), atStart, 'the stored cursor trails');
    assert.notEqual(applied(), atStart);
    await b.sync();
    assert.equal(saves, 1, 'sync() stores it');
    assert.equal(await stored(), applied());
    await b.sync();
    assert.equal(saves, 1, 'a sync() that read nothing writes nothing: an idle poll is one query');
    await a.refresh('product', [6]);
    wake();
    await waitFor(() => onB.refreshedIds().includes(6), { describe: () => JSON.stringify(onB.calls) });
    assert.equal(saves, 1);
    await b.stop();
    h.knex.off('query', onQuery);
    assert.equal(saves, 2, 'stop() stores the cursor that moved');
    assert.equal(await stored(), applied());
    assert.deepEqual(onB.refreshedIds(), [1, 2, 3, 4, 5, 6], 'each applied once');
  });

  const sqliteSaves = dialect === 'sqlite' ? 'SQLite: its polls store the cursor (one file on one host has no fleet to spare)' : false;
  test(
    "a busy server's cursor waits for its heartbeat: no cursor write per interval while rows keep coming",
    { skip: sqliteSaves },
    async (t) => {
      const h = await harness(t, dialect);
      const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
      const onB = recorder();
      // Polls every 50 ms; its next heartbeat is a minute away. Before the heartbeat carried it, a
      // busy cursor was written once per syncInterval: a write transaction per server per second.
      const b = h.cache({ serverIdentity: 'b', refreshers: [onB], syncInterval: 50, heartbeatInterval: 60_000 });
      await b.start();
      const poller = (b as unknown as { poller: { appliedPosition: string | undefined; lastSuccess: Date | null } }).poller;
      let saves = 0;
      const onQuery = (q: { sql: string; bindings?: unknown[] }) => {
        if (/^update\b/i.test(q.sql) && q.sql.includes(h.table('cache_cursor')) && (q.bindings ?? []).includes('b')) saves += 1;
      };
      h.knex.on('query', onQuery);
      t.after(() => void h.knex.off('query', onQuery));
      for (let i = 1; i <= 5; i++) {
        await a.refresh('product', [i]);
        await waitFor(() => onB.refreshedIds().includes(i), { describe: () => JSON.stringify(onB.calls) });
        // Two intervals pass, polled, before the next row: each row is read by a poll of its own interval.
        const got = Date.now();
        await waitFor(() => (poller.lastSuccess?.getTime() ?? 0) > got + 100, { describe: () => 'b polls on' });
      }
      assert.equal(saves, 0, 'five busy intervals, no heartbeat: no cursor write');
      await b.stop();
      assert.equal(saves, 1, 'stop() stores the cursor that moved');
      const stored = await h.knex(h.table('cache_cursor')).where({ server_identity: 'b' }).first();
      assert.equal(String(stored?.position), String(poller.appliedPosition));
    },
  );

  test('a prune rests between chunks in proportion to them (pruneDutyCycle)', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    for (let i = 0; i < 12; i++) await a.refresh('product', [i]);
    await backdate(h, 'all');
    const store = dialectFor(h.knex).createStore({ knex: h.knex, tables: tableNames(h.prefix), cluster: 'default', queryTimeout: 30_000 });
    // A clock that moves 10 ms per reading: every chunk "takes" 10 ms, whatever the machine does.
    let now = 0;
    const rests: number[] = [];
    const clock = { now: () => (now += 10), rest: async (ms: number) => void rests.push(ms) };
    const pruner = new Pruner(store, new TypedEmitter(() => undefined), silentLoggerForTests, {
      retention: 1000,
      maxRetention: 1000,
      chunkSize: 2,
      dutyCycle: 0.25,
      clock,
    });
    const result = await pruner.prune();
    assert.equal(result.deleted, 11, 'all but the newest');
    // Five full chunks, each followed by a rest three times its 10 ms; the short sixth ends the prune.
    assert.deepEqual(rests, [30, 30, 30, 30, 30]);
    rests.length = 0;
    const eager = new Pruner(store, new TypedEmitter(() => undefined), silentLoggerForTests, {
      retention: 1000,
      maxRetention: 1000,
      chunkSize: 2,
      dutyCycle: 1,
      clock,
    });
    for (let i = 0; i < 4; i++) await a.refresh('product', [i]);
    await backdate(h, 'all');
    assert.equal((await eager.prune()).deleted, 4);
    assert.deepEqual(rests, [], 'a duty cycle of 1 never rests');
  });

  test('prune leaves rows younger than retention and does not mark servers that read everything', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [recorder()] });
    await b.start();
    for (let i = 0; i < 4; i++) await a.refresh('product', [i]);
    await b.sync();
    const ids = await rowIds(h);
    await backdate(h, ids.slice(0, 2));
    const result = await a.prune();
    assert.equal(result.deleted, 2);
    assert.deepEqual(result.marked, []);
    assert.deepEqual(await rowIds(h), ids.slice(2));
    assert.equal((await b.sync()).coldBoot, null);
  });

  test('when the database fails, the poller reports each failure, backs off and recovers by itself', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const onB = recorder();
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB], syncInterval: 20, maxErrorBackoff: 40 });
    await b.start();
    let errorsSeen = 0;
    b.on('sync:error', () => errorsSeen++);
    await h.knex.schema.renameTable(h.table('cache_cursor'), `${h.prefix}cursor_away`);
    await waitFor(() => errorsSeen >= 3, { describe: () => `${errorsSeen} sync errors` });
    await h.knex.schema.renameTable(`${h.prefix}cursor_away`, h.table('cache_cursor'));
    await a.refresh('product', [8]);
    await waitFor(() => onB.refreshedIds().includes(8), { describe: () => JSON.stringify(onB.calls) });
  });

  test('idle polls stay one query each: the database identity is checked at start and after failures, not at every poll', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    await a.refresh('product', [1]);
    const b = h.cache({ serverIdentity: 'b', refreshers: [recorder()] });
    await b.start();
    await b.sync();
    const identityChecks: string[] = [];
    const queries: string[] = [];
    const onQuery = (q: { sql: string }) => {
      queries.push(q.sql);
      if (/pg_control_system/.test(q.sql)) identityChecks.push(q.sql);
    };
    h.knex.on('query', onQuery);
    try {
      for (let i = 0; i < 20; i++) assert.equal((await b.sync()).coldBoot, null);
    } finally {
      h.knex.off('query', onQuery);
    }
    assert.deepEqual(identityChecks, [], 'no identity query on an idle poll');
    assert.equal(queries.length, 20, `one query per idle poll: ${JSON.stringify(queries.slice(0, 3))}`);
  });
}
