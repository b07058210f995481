/**
 * Issue 22, "Generated trigger breaks the app's write": a key over 1,024 characters or a JSON key
 * column made the application's own INSERT fail, and two long table names cut to the same function
 * name. A key no reader could carry now becomes one refresh-all; a cut name ends in a hash.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { harness } from '../conformance/harness.js';
import { Admin } from '../../src/admin/index.js';
import { triggerPlan } from '../../src/admin/trigger.js';
import { postgresDialect } from '../../src/dialects/postgres/dialect.js';
import { tableNames } from '../../src/store/tables.js';

export function triggerTests(): void {
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

  test('two long table names never share a generated function name', () => {
    const tables = tableNames('');
    const a = triggerPlan(postgresDialect, tables, 'default', { table: `${'t'.repeat(55)}_a`, refresher: 'p', keyColumn: 'id' });
    const b = triggerPlan(postgresDialect, tables, 'default', { table: `${'t'.repeat(55)}_b`, refresher: 'p', keyColumn: 'id' });
    const name = (plan: typeof a) => /create function "([^"]+)"/.exec(plan.up[0]!)?.[1];
    assert.notEqual(name(a), name(b));
    assert.ok(name(a)!.length <= 63);
  });
}
