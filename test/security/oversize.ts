/**
 * Issue 22, "One oversized row crash-loops every PostgreSQL server": a 560-million-character row
 * made `pg` throw ERR_STRING_TOO_LONG inside its socket handler, uncaught, on every server at once,
 * and again after each restart. Now no row over 16 MiB can be stored (migration 007's CHECK), a
 * reader never fetches a body over its maxRowBytes (it reads the size first, in the same statement),
 * and a page is bounded in bytes as well as rows.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { test } from 'node:test';
import { harness, type Harness } from '../conformance/harness.js';
import { dialectFor } from '../../src/dialects/dialect.js';
import { resolveTables } from '../../src/migrations/migrate.js';
import type { DialectName } from '../support/databases.js';
import { waitFor } from '../support/wait.js';
import type { OversizeChildMessage, OversizeChildSettings } from './oversize-child.js';

const doc = (instructions: unknown) => JSON.stringify({ v: 1, instructions });
const row = (json: string, count = 1) => ({ json_instruction: json, originated: 'attacker', instruction_count: count });

/** An oversize row written by a role with INSERT on the log; then a good row. One server in a child process. */
export function oversizeRowTests(dialect: DialectName): void {
  const name = `${dialect}: a server stays alive after a row over maxRowBytes, refreshes, records it once, applies the next row`;
  test(name, async (t) => {
    const h = await harness(t, dialect);
    const sqliteFile = (h.knex.client.config.connection as { filename?: string } | undefined)?.filename;
    const settings: OversizeChildSettings = { dialect, prefix: h.prefix, maxRowBytes: 64 * 1024, sqliteFile };
    const child = fork(new URL('./oversize-child.js', import.meta.url), [JSON.stringify(settings)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const messages: OversizeChildMessage[] = [];
    child.on('message', (m: OversizeChildMessage) => messages.push(m));
    child.on('error', () => undefined);
    let exitCode: number | null | undefined;
    const exited = new Promise<void>((resolve) => child.once('exit', (code) => ((exitCode = code), resolve())));
    t.after(async () => {
      if (exitCode === undefined) child.send({ type: 'stop' });
      await exited;
    });
    await waitFor(() => messages.some((m) => m.type === 'started') || exitCode !== undefined, { timeout: 20_000 });

    // A valid payload row of 1 MiB: a reader that fetched it would hand the payload to the refresher.
    const big = doc([{ refresher: 'product', kind: 'payload', payloads: [{ price: 0, pad: 'x'.repeat(1024 * 1024) }] }]);
    await h.knex(h.table('cache_instruction')).insert(row(big));
    const bigId = ((await h.knex(h.table('cache_instruction')).max({ id: 'id' })) as Array<{ id: number }>)[0]!.id;
    await h.knex(h.table('cache_instruction')).insert(row(doc([{ refresher: 'product', kind: 'refresh', ids: [7] }])));
    const calls = () => messages.flatMap((m) => (m.type === 'call' ? [m.call] : []));
    await waitFor(() => calls().some((c) => JSON.stringify(c) === '{"kind":"refresh","ids":[7]}') || exitCode !== undefined, {
      timeout: 20_000,
      describe: () => JSON.stringify(calls()).slice(0, 300),
    });
    assert.equal(exitCode, undefined, 'the server process is still running');
    assert.deepEqual(calls()[0], { kind: 'refresh-all' }, 'the oversize row became a refresh-all, never a payload call');
    assert.ok(!calls().some((c) => (c as { kind: string }).kind === 'payload'));
    const id = Number(bigId);
    const malformed = messages.filter((m) => m.type === 'malformed');
    assert.equal(malformed.length, 1);
    assert.match((malformed[0] as { reason: string }).reason, /over maxRowBytes/);
    const recorded = await h.knex(h.table('cache_failure')).where('instruction_id', id);
    assert.equal(recorded.length, 1, 'one failure record for the row');
  });
}

/** The position of row `id` (MySQL: its seq; SQLite: the id itself). */
async function positionOf(h: Harness, id: number): Promise<number> {
  if (h.dialect !== 'mysql') return id;
  return Number((await h.knex(h.table('cache_instruction')).where('id', id).first('seq'))!.seq);
}

/** Migration 007's CHECK, and a page bounded in bytes, on every dialect. */
export function rowBoundTests(dialect: DialectName): void {
  test(`${dialect}: no writer can store a row over 16 MiB or with instruction_count 0 (migration 007)`, async (t) => {
    const h = await harness(t, dialect);
    const huge = doc([{ refresher: 'product', kind: 'payload', payloads: ['x'.repeat(16 * 1024 * 1024)] }]);
    // MariaDB's default max_allowed_packet (16 MiB) refuses it before the trigger can; a server configured higher meets the trigger.
    // Its own connection there: the server closes a connection that sent a packet over the limit.
    const sender = dialect === 'mysql' ? h.connection() : h.knex;
    await assert.rejects(
      sender(h.table('cache_instruction')).insert(row(huge)),
      /bounded|16777216|check|max_allowed_packet|ECONNRESET|EPIPE/i,
    );
    const small = doc([{ refresher: 'product', kind: 'refresh', ids: [1] }]);
    await assert.rejects(h.knex(h.table('cache_instruction')).insert(row(small, 0)), /bounded|16777216|check/i);
    await assert.rejects(h.knex(h.table('cache_instruction')).insert(row(small, -5)), /bounded|16777216|check/i);
    assert.equal(Number((await h.knex(h.table('cache_instruction')).count({ n: '*' }))[0]!.n), 0);
  });

  test(`${dialect}: a plain INSERT of 16 MiB + 1 byte built by the database itself is refused (no client packet in the way)`, async (t) => {
    const h = await harness(t, dialect);
    const table = h.table('cache_instruction');
    const over = 16 * 1024 * 1024 + 1;
    const built = { postgres: `repeat('x', ${over})`, mysql: `REPEAT('x', ${over})`, sqlite: `hex(zeroblob(${(over + 1) / 2}))` }[dialect];
    const insert = (q: string) => `insert into ${q} (json_instruction, originated, instruction_count) values (${built}, 'attacker', 1)`;
    if (dialect === 'mysql') {
      const [[vars]] = (await h.knex.raw('select @@max_allowed_packet as packet')) as [[{ packet: number }]];
      if (Number(vars.packet) <= over) {
        // REPEAT's result is bounded by max_allowed_packet too (an error in strict mode, else a NULL
        // the NOT NULL column refuses). Migration 007's trigger stands behind a server configured higher.
        await assert.rejects(h.knex.raw(insert(`\`${table}\``)), /max_allowed_packet|cannot be null/i);
        const [triggers] = (await h.knex.raw(
          `select action_statement as body from information_schema.triggers where trigger_schema = database() and trigger_name = ?`,
          [`${table}_bounded_ins`],
        )) as [Array<{ body: string }>];
        assert.match(String(triggers[0]?.body), /OCTET_LENGTH\(NEW\.json_instruction\) > 16777216/);
        return;
      }
      await assert.rejects(h.knex.raw(insert(`\`${table}\``)), /at most 16777216 bytes/);
    } else {
      await assert.rejects(h.knex.raw(insert(`"${table}"`)), dialect === 'postgres' ? /_bounded/ : /at most 16777216 bytes/);
    }
    // Grown in place by an UPDATE: the same bound.
    await h.knex(table).insert(row(doc([{ refresher: 'product', kind: 'refresh', ids: [1] }])));
    const grow = `update ${dialect === 'mysql' ? `\`${table}\`` : `"${table}"`} set json_instruction = ${built}`;
    await assert.rejects(h.knex.raw(grow), dialect === 'postgres' ? /_bounded/ : /at most 16777216 bytes/);
    assert.equal(Number((await h.knex(table).count({ n: '*' }))[0]!.n), 1);
  });

  test(`${dialect}: a page stops at maxPageBytes (its first row always comes), and no body over maxRowBytes is fetched`, async (t) => {
    const h = await harness(t, dialect);
    const pad = (n: number) => doc([{ refresher: 'product', kind: 'payload', payloads: ['p'.repeat(n)] }]);
    for (let i = 0; i < 5; i++) await h.knex(h.table('cache_instruction')).insert(row(pad(40_000)));
    await h.knex(h.table('cache_instruction')).insert(row(pad(300_000)));
    await h.knex(h.table('cache_instruction')).insert(row(pad(10)));
    const store = dialectFor(h.knex).createStore({
      knex: h.knex,
      tables: resolveTables(h.prefix),
      cluster: 'default',
      queryTimeout: 10_000,
      maxRowBytes: 200_000,
      maxPageBytes: 100_000,
    });
    const from = dialect === 'postgres' ? '1:1:' : '0';
    const sizes: number[][] = [];
    let token: string | null = null;
    do {
      const page = await store.readPage('reader', from, token, 100);
      sizes.push(page.rows.map((r) => r.oversizeBytes ?? r.json.length));
      token = page.token;
    } while (token !== null && sizes.length < 20);
    // 40 KB rows: two fit under 100,000 bytes, the third would pass it. The 300 KB row comes as its size alone.
    const flat = sizes.flat();
    assert.equal(flat.length, 7, JSON.stringify(sizes));
    assert.ok(
      sizes.every((s) => s.reduce((a, b) => a + (b > 200_000 ? 0 : b), 0) <= 100_000 || s.length === 1),
      JSON.stringify(sizes),
    );
    assert.ok(flat[5]! > 300_000, 'the oversize row reports its size');
    const oversize = (await store.getRow(6))!;
    assert.equal(oversize.json, '', 'getRow does not fetch an oversize body either');
    assert.ok(oversize.oversizeBytes! > 300_000);

    // What the database sends for one page, not only what the page keeps: ten rows of 40 KB are
    // 400 KB, and a page of 100 rows may bring at most about maxPageBytes of bodies.
    if (dialect !== 'postgres') {
      const last = Number((await h.knex(h.table('cache_instruction')).max({ id: 'id' }))[0]!.id);
      for (let i = 0; i < 10; i++) await h.knex(h.table('cache_instruction')).insert(row(pad(40_000)));
      let received = 0;
      const count = (response: unknown) => void (received += JSON.stringify(response ?? null).length);
      h.knex.on('query-response', count);
      const page = await store.readPage('reader', String(await positionOf(h, last)), null, 100);
      h.knex.off('query-response', count);
      assert.equal(page.rows.length, 2);
      assert.ok(received < 2 * 100_000, `${received} bytes received for a page of ${page.rows.length} rows`);
    }
  });
}
