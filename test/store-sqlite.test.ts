import { test } from 'node:test';
import assert from 'node:assert/strict';
import knexFactory from 'knex';
import { migrate } from '../src/migrations/migrate.js';
import { sqliteDialect } from '../src/dialects/sqlite/dialect.js';
import type { NewInstructionRow } from '../src/store/store.js';
import { tableNames } from '../src/store/tables.js';
import { runCached } from '../src/dialects/sqlite/statements.js';
import { dropPrefixed, freshPrefix, sqliteConfig, sqliteFile } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const row = (label: string): NewInstructionRow => ({
  json: JSON.stringify({ label }),
  originated: 'test',
  originInstance: null,
  instructionCount: 1,
});

const preparedStatementsTest =
  'sqlite store: polls and single-row writes run as statements kept ' +
  'prepared, visible to knex query listeners, and survive a schema change';
test(preparedStatementsTest, async () => {
  const knex = knexFactory(sqliteConfig(sqliteFile()));
  const prefix = freshPrefix();
  try {
    await migrate(knex, { tablePrefix: prefix });
    const store = sqliteDialect.createStore({ knex, tables: tableNames(prefix), cluster: 'default', queryTimeout: 10_000 });
    await store.resetCursor('r', await store.head());
    const seen: string[] = [];
    const responses: unknown[] = [];
    knex.on('query', (q: { sql: string }) => seen.push(q.sql));
    knex.on('query-response', (r: unknown) => responses.push(r));

    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(...(await store.insert([row(`r${i}`)])));
    assert.deepEqual(ids, [1, 2, 3, 4, 5], 'each write returns its row id');
    assert.equal(seen.length, 5, 'one statement per write, seen by knex listeners');
    assert.ok(seen.every((sql) => /^insert into/.test(sql)));

    seen.length = 0;
    const first = await store.readPage('r', '0', null, 2);
    const second = await store.readPage('r', '0', first.token, 2);
    const third = await store.readPage('r', '0', second.token, 2);
    assert.deepEqual(
      [...first.rows, ...second.rows, ...third.rows].map((r) => r.id),
      [1, 2, 3, 4, 5],
    );
    assert.equal(first.coldBootRequested, false, 'the first page carries the cursor flag');
    assert.equal(second.coldBootRequested, undefined, 'later pages do not read it');
    assert.equal(third.token, null);
    assert.equal(third.position, '5');
    assert.equal(seen.length, 3, 'one statement per page');
    assert.equal(responses.length, 8);

    // The tables are dropped and made again under the same prefix, on the same connection:
    // the statements kept prepared must read the new tables, not fail or read stale ones.
    await dropPrefixed(knex, prefix);
    await migrate(knex, { tablePrefix: prefix });
    await store.resetCursor('r', await store.head());
    assert.deepEqual(await store.insert([row('again')]), [1]);
    const fresh = await store.readPage('r', '0', null, 10);
    assert.deepEqual(
      fresh.rows.map((r) => JSON.parse(r.json).label),
      ['again'],
    );
  } finally {
    await dropPrefixed(knex, prefix);
    await knex.destroy();
  }
});

const lockTableTest =
  'sqlite migrate(): knex lock table gets exactly one row, including a table left empty, or with two rows by the creation race';
test(lockTableTest, async () => {
  const knex = knexFactory(sqliteConfig(sqliteFile()));
  const lockRows = (prefix: string) => knex(`${prefix}distcache_migrations_lock`).select('index', 'is_locked').orderBy('index');
  try {
    const fresh = freshPrefix();
    assert.equal((await migrate(knex, { tablePrefix: fresh })).applied.length > 0, true);
    assert.deepEqual(await lockRows(fresh), [{ index: 1, is_locked: 0 }], 'a new file gets one row');
    assert.deepEqual((await migrate(knex, { tablePrefix: fresh })).applied, [], 'a second run finds nothing to do');
    assert.deepEqual(await lockRows(fresh), [{ index: 1, is_locked: 0 }], 'and adds no row');

    // The state two processes left when each inserted a row after the other's check: knex's
    // `update ... where is_locked = 0` changes two rows, which it reads as "already locked".
    for (const rows of [[], [{ is_locked: 0 }, { is_locked: 0 }]]) {
      const prefix = freshPrefix();
      await knex.schema.createTable(`${prefix}distcache_migrations_lock`, (t) => {
        t.increments('index').primary();
        t.integer('is_locked');
      });
      if (rows.length) await knex(`${prefix}distcache_migrations_lock`).insert(rows);
      const { applied } = await migrate(knex, { tablePrefix: prefix, lockTimeout: 2_000 });
      assert.ok(applied.length > 0, `migrations ran with ${rows.length} lock rows to begin with`);
      assert.deepEqual(await lockRows(prefix), [{ index: 1, is_locked: 0 }]);
      await dropPrefixed(knex, prefix);
    }
    await dropPrefixed(knex, fresh);
  } finally {
    await knex.destroy();
  }
});

test('sqlite kept statements: rows read as arrays come back as the same objects knex returns, values and types alike', async () => {
  const knex = knexFactory(sqliteConfig(sqliteFile()));
  try {
    const cases: Array<[string, string[]]> = [
      ["select 1 as a, 'x' as b, null as c, 2.5 as d, x'00ff' as e", []],
      // A repeated name keeps the last value, as better-sqlite3's (and so knex's) objects do.
      ['select 1 as a, 2 as a, ? as b', ['p']],
      ['select 1 as a where 0', []],
      ['select value as v from json_each(?) order by key', ['[3,1,2]']],
    ];
    for (const [sql, params] of cases) {
      const kept = await runCached(knex, sql, params, 'all');
      assert.deepEqual(kept, await knex.raw(sql, params), sql);
      // The second call reuses the kept statement and its column names.
      assert.deepEqual(await runCached(knex, sql, params, 'all'), kept, `${sql} (kept)`);
    }
  } finally {
    await knex.destroy();
  }
});
