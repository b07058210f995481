/**
 * Issue 22, bounded rows, the operator's side: `distcache tail` read `limit` whole rows, and a row
 * may hold 16 MiB, so `tail --limit 100` could bring 1.6 GB into the CLI. Now tail, show and the
 * first rows of follow read each row's size first and bodies within a byte budget (--max-bytes,
 * 32 MiB by default); a row over the budget alone is shown by its size (src/admin/bounded-rows.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admin } from '../../src/admin/index.js';
import { dialectFor } from '../../src/dialects/dialect.js';
import { tableNames } from '../../src/store/tables.js';
import { cli, cliDatabase } from '../support/cli-run.js';
import type { DialectName } from '../support/databases.js';

const MiB = 1024 * 1024;
const HEAD = '{"v":1,"instructions":[{"refresher":"product","kind":"payload","payloads":["';
const TAIL = '"]}]}';
/** A big row's payload: 15 MiB, near the 16 MiB cap yet under MariaDB's default max_allowed_packet. */
const PAD = 15 * MiB;
const BIG = HEAD.length + PAD + TAIL.length;

/** A row of BIG bytes, built by the database (no 15 MiB statement to send). */
function bigRowSql(dialect: DialectName, table: string): string {
  const pad = { postgres: `repeat('p', ${PAD})`, mysql: `REPEAT('p', ${PAD})`, sqlite: `replace(hex(zeroblob(${PAD / 2})), '0', 'p')` }[
    dialect
  ];
  const json = dialect === 'mysql' ? `CONCAT('${HEAD}', ${pad}, '${TAIL}')` : `'${HEAD}' || ${pad} || '${TAIL}'`;
  const q = dialect === 'mysql' ? `\`${table}\`` : `"${table}"`;
  return `insert into ${q} (json_instruction, originated, instruction_count) select ${json}, 'big', 1`;
}

export function adminReadTests(dialect: DialectName): void {
  const name =
    `${dialect}: tail, show and pending bring at most --max-bytes of row bodies; ` +
    'rows past it left out, a row over it shown by its size';
  test(name, async (t) => {
    const db = await cliDatabase(dialect);
    t.after(() => db.close());
    const table = `${db.prefix}cache_instruction`;
    const small = (id: number) =>
      db.knex(table).insert({
        json_instruction: JSON.stringify({ v: 1, instructions: [{ refresher: 'product', kind: 'refresh', ids: [id] }] }),
        originated: 'small',
        instruction_count: 1,
      });
    // A server whose cursor stands before every row, for `pending`.
    const store = dialectFor(db.knex).createStore({
      knex: db.knex,
      tables: tableNames(db.prefix),
      cluster: 'default',
      queryTimeout: 30_000,
    });
    await store.resetCursor('behind', await store.head());
    await small(1);
    for (let i = 0; i < 3; i++) await db.knex.raw(bigRowSql(dialect, table));
    await small(2);
    const ids = (await db.knex(table).orderBy('id').pluck('id')).map(Number);
    assert.equal(ids.length, 5);
    const [a, b, c, d, e] = ids as [number, number, number, number, number];
    const admin = new Admin({ knex: db.knex, tablePrefix: db.prefix });

    // What the database sends, not only what tail keeps.
    let received = 0;
    const count = (response: unknown) => void (received += JSON.stringify(response ?? null).length);
    db.knex.on('query-response', count);
    t.after(() => void db.knex.off('query-response', count));

    // 32 MiB by default: the two newest big rows fit (30 MiB), the third would pass it; it and the older small row are left out.
    let leftOut = 0;
    const rows = await admin.tail({ limit: 10, onLeftOut: (n) => void (leftOut = n) });
    assert.deepEqual(
      rows.map((r) => r.id),
      [c, d, e],
    );
    assert.equal(leftOut, 2);
    assert.ok(rows.every((r) => r.instructions !== null && r.oversizeBytes === undefined));
    assert.ok(received > 2 * BIG && received < 32 * MiB + 64 * 1024, `${received} bytes received for tail`);

    // 1 MiB: each big row alone is over it, shown by its size and never sent; the small rows still come.
    received = 0;
    const capped = await admin.tail({ limit: 10, maxBytes: MiB });
    assert.deepEqual(
      capped.map((r) => r.id),
      [a, b, c, d, e],
    );
    for (const r of capped.slice(1, 4)) {
      assert.equal(r.oversizeBytes, BIG);
      assert.equal(r.instructions, null);
      assert.equal(r.malformed, `[${BIG} bytes, over the limit]`);
    }
    assert.deepEqual(capped[0]!.instructions?.[0]?.ids, [1]);
    assert.ok(received < 64 * 1024, `${received} bytes received for tail --max-bytes 1 MiB`);

    received = 0;
    const shown = await admin.show(d, { maxBytes: MiB });
    assert.equal(shown.json, `[${BIG} bytes, over the limit]`);
    assert.equal(shown.oversizeBytes, BIG);
    assert.ok(received < 64 * 1024, `${received} bytes received for show --max-bytes 1 MiB`);
    assert.equal((await admin.show(d)).json.length, BIG, 'within the default budget show reads the whole row');
    await assert.rejects(admin.tail({ maxBytes: 10 }), { code: 'E_INVALID_ARGUMENT' });

    // pending, in the order the server applies the rows: the later ones past the budget are left out.
    received = 0;
    const pending = await admin.pending('behind', { limit: 10 });
    assert.deepEqual(
      pending.rows.map((r) => r.id),
      [a, b, c],
    );
    assert.equal(pending.leftOut, 2);
    assert.equal(pending.truncated, true);
    assert.ok(received > 2 * BIG && received < 32 * MiB + 64 * 1024, `${received} bytes received for pending`);
    received = 0;
    const pendingCapped = await admin.pending('behind', { limit: 10, maxBytes: MiB });
    assert.deepEqual(
      pendingCapped.rows.map((r) => [r.id, r.oversizeBytes]),
      [
        [a, undefined],
        [b, BIG],
        [c, BIG],
        [d, BIG],
        [e, undefined],
      ],
    );
    assert.equal(pendingCapped.leftOut, 0);
    assert.ok(received < 64 * 1024, `${received} bytes received for pending --max-bytes 1 MiB`);

    // The CLI: the flag, the note, the size in place of the body.
    const capOut = await cli(['tail', '--max-bytes', String(MiB), ...db.flags]);
    assert.equal(capOut.code, 0, capOut.stderr);
    assert.match(capOut.stdout, /\(not read\)/);
    assert.ok(capOut.stdout.includes(`[${BIG} bytes, over the limit]`), capOut.stdout);
    const defaultOut = await cli(['tail', ...db.flags]);
    assert.match(defaultOut.stdout, /2 older rows left out: the newer ones fill --max-bytes 33554432/);
    const showOut = await cli(['show', String(b), '--max-bytes', String(MiB), ...db.flags]);
    assert.ok(showOut.stdout.includes(`json: [${BIG} bytes, over the limit]`), showOut.stdout);
    const pendingOut = await cli(['pending', '--server', 'behind', ...db.flags]);
    assert.match(pendingOut.stdout, /2 later rows left out: the earlier ones fill --max-bytes 33554432/);
    const pendingCapOut = await cli(['pending', '--server', 'behind', '--max-bytes', String(MiB), ...db.flags]);
    assert.ok(pendingCapOut.stdout.includes(`[${BIG} bytes, over the limit]`), pendingCapOut.stdout);
    const bad = await cli(['tail', '--max-bytes', '10', ...db.flags]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--max-bytes 10 is not valid/);
  });
}
