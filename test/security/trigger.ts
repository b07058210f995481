/**
 * Issue 22, "Generated trigger breaks the app's write": a key over 1,024 characters or a JSON key
 * column made the application's own INSERT fail, and two long table names cut to the same function
 * name. A key no reader could carry now becomes one refresh-all, on every database; a cut name ends
 * in a hash.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { harness, type Harness } from '../conformance/harness.js';
import { Admin } from '../../src/admin/index.js';
import { triggerPlan, type TriggerPlan } from '../../src/admin/trigger.js';
import { mysqlDialect } from '../../src/dialects/mysql/dialect.js';
import { postgresDialect } from '../../src/dialects/postgres/dialect.js';
import { tableNames } from '../../src/store/tables.js';
import type { DialectName } from '../support/databases.js';

const instructions = async (h: Harness) =>
  ((await h.knex(h.table('cache_instruction')).select('json_instruction').orderBy('id')) as Array<{ json_instruction: string }>).map(
    (r) => JSON.parse(r.json_instruction).instructions[0],
  );
const all = { refresher: 'product', kind: 'refresh-all' };
/** The plan for a 57-character table name ending in `suffix`: its trigger names must be cut. */
const longTable = (dialect: 'postgres' | 'mysql', suffix: string) =>
  triggerPlan(dialect === 'postgres' ? postgresDialect : mysqlDialect, tableNames(''), 'default', {
    table: `${'t'.repeat(55)}_${suffix}`,
    refresher: 'p',
    keyColumn: 'id',
  });

const tests: Record<DialectName, () => void> = {
  postgres: () => {
    test('postgres: a generated trigger turns keys it cannot carry into a refresh-all, never failing the app write', async (t) => {
      const h = await harness(t, 'postgres');
      const app = `${h.prefix}app_data`;
      await h.knex.raw(`create table "${app}" (k jsonb primary key, note text)`);
      const admin = new Admin({ knex: h.knex, tablePrefix: h.prefix });
      await admin.installTrigger({ table: app, refresher: 'product', keyColumn: 'k' });
      await h.knex(app).insert({ k: JSON.stringify({ id: 1 }), note: 'a' });
      await h.knex(app).insert({ k: JSON.stringify('x'.repeat(2000)), note: 'b' });
      await h.knex(app).insert({ k: JSON.stringify(7), note: 'c' });
      const rows = await h.knex(h.table('cache_instruction')).select('json_instruction').orderBy('id');
      assert.deepEqual(
        rows.map((r: { json_instruction: string }) => JSON.parse(r.json_instruction).instructions[0]),
        [
          { refresher: 'product', kind: 'refresh-all' },
          { refresher: 'product', kind: 'refresh-all' },
          { refresher: 'product', kind: 'refresh', ids: [7] },
        ],
      );
    });

    test('postgres: two long table names never share a generated function name', () => {
      const name = (plan: TriggerPlan) => /create function "([^"]+)"/.exec(plan.up[0]!)?.[1];
      assert.notEqual(name(longTable('postgres', 'a')), name(longTable('postgres', 'b')));
      assert.ok(name(longTable('postgres', 'a'))!.length <= 63);
    });
  },
  mysql: () => {
    test('mysql: two long table names never share a generated trigger name', () => {
      const name = (plan: TriggerPlan) => /CREATE TRIGGER `([^`]+)`/.exec(plan.up[0]!)?.[1];
      assert.notEqual(name(longTable('mysql', 'a')), name(longTable('mysql', 'b')));
      assert.ok(name(longTable('mysql', 'a'))!.length <= 64);
    });

    test('mysql: a generated trigger turns keys it cannot carry into a refresh-all, never failing the app write', async (t) => {
      // Registered before the harness's clean-up, which knows only its own tables (app_data among them).
      t.after(async () => {
        for (const table of [text, numbers]) await h.knex.raw(`drop table if exists \`${table}\``);
      });
      const h = await harness(t, 'mysql');
      const admin = new Admin({ knex: h.knex, tablePrefix: h.prefix });
      const text = `${h.prefix}app_text`;
      const numbers = `${h.prefix}app_number`;
      await h.knex.raw(`create table \`${text}\` (k varchar(3000), note text)`);
      await h.knex.raw(`create table \`${numbers}\` (k decimal(30, 0), note text)`);
      await admin.installTrigger({ table: text, refresher: 'product', keyColumn: 'k' });
      await admin.installTrigger({ table: numbers, refresher: 'product', keyColumn: 'k' });
      const long = 'x'.repeat(2000);
      // MariaDB's default sql_mode is strict: a warning inside the trigger (a CAST of a string) would fail the write.
      assert.match(((await h.knex.raw('select @@sql_mode as m')) as [Array<{ m: string }>])[0][0]!.m, /STRICT/);
      await h.knex(text).insert({ k: 'a', note: '1' });
      await h.knex(text).insert({ k: long, note: '2' });
      await h
        .knex(text)
        .where('k', 'a')
        .update({ k: `y${long}` });
      await h.knex(text).insert({ k: 'b', note: '3' });
      await h.knex(text).where('k', 'b').delete();
      await h.knex(numbers).insert({ k: '9007199254740991', note: '4' });
      await h.knex(numbers).insert({ k: '9007199254740993', note: '5' });
      await h.knex(numbers).where('k', '9007199254740993').delete();
      assert.deepEqual(await instructions(h), [
        { refresher: 'product', kind: 'refresh', ids: ['a'] },
        all,
        all,
        { refresher: 'product', kind: 'refresh', ids: ['b'] },
        { refresher: 'product', kind: 'remove', ids: ['b'] },
        { refresher: 'product', kind: 'refresh', ids: [9007199254740991] },
        all,
        all,
      ]);
      assert.equal(((await h.knex(text).count({ n: '*' })) as Array<{ n: number }>)[0]!.n, 2, "the app's writes all went through");
    });
  },
  sqlite: () => {
    test('sqlite: a generated trigger turns keys it cannot carry into a refresh-all, never failing the app write', async (t) => {
      const h = await harness(t, 'sqlite');
      const admin = new Admin({ knex: h.knex, tablePrefix: h.prefix });
      const app = `${h.prefix}app_data`;
      // SQLite's columns take any type: one column holds texts, integers, reals and blobs.
      await h.knex.raw(`create table "${app}" (k, note text)`);
      await admin.installTrigger({ table: app, refresher: 'product', keyColumn: 'k' });
      const long = 'x'.repeat(2000);
      await h.knex(app).insert({ k: 'a', note: '1' });
      await h.knex(app).insert({ k: long, note: '2' });
      await h.knex.raw(`insert into "${app}" (k, note) values (9007199254740993, '3')`);
      await h.knex.raw(`insert into "${app}" (k, note) values (x'00ff', '4')`);
      await h.knex.raw(`insert into "${app}" (k, note) values (1.5, '5')`);
      await h.knex(app).where('k', 'a').update({ k: 'b' });
      await h
        .knex(app)
        .where('k', 'b')
        .update({ k: long + 'y' });
      await h.knex.raw(`delete from "${app}" where note in ('2', '4')`);
      await h.knex.raw(`delete from "${app}" where note = '5'`);
      assert.deepEqual(await instructions(h), [
        { refresher: 'product', kind: 'refresh', ids: ['a'] },
        all,
        all,
        all,
        { refresher: 'product', kind: 'refresh', ids: [1.5] },
        { refresher: 'product', kind: 'refresh', ids: ['a', 'b'] },
        all,
        all,
        all,
        { refresher: 'product', kind: 'remove', ids: [1.5] },
      ]);
    });
  },
};

/** Issue 22's generated-trigger finding on one database. */
export function triggerTests(dialect: DialectName): void {
  tests[dialect]();
}
