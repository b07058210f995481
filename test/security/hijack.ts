/**
 * Issue 22, "search_path hijack of the SQL functions": migration 005's functions were SECURITY
 * INVOKER, pinned no search_path and called to_json() and the table unqualified, so a role with
 * CREATE on a schema of the caller's path (`public` up to PostgreSQL 14, and after pg_upgrade)
 * could plant `public.to_json(text)`, which ran as whoever called distcache_refresh() (a superuser
 * in the report) and rewrote the row. Migration 007 re-creates them qualified and pinned.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import pg from 'pg';
import { harness } from '../conformance/harness.js';
import { PG_URL } from '../support/databases.js';

/**
 * A fresh attacker role with CREATE on public, set as the client's role, and a `_loot` table any
 * caller may insert into (a planted function records there whether it ran). `cleanup` lists the
 * statements that remove what the test plants, run before the role and table are dropped.
 */
async function plantingAttacker(
  t: TestContext,
  cleanup: string[] | ((attacker: string) => string[]),
): Promise<{ attacker: string; db: pg.Client }> {
  const attacker = `dc_attacker_${randomBytes(4).toString('hex')}`;
  const db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  t.after(async () => {
    await db.query('reset role');
    for (const sql of typeof cleanup === 'function' ? cleanup(attacker) : cleanup) await db.query(sql);
    await db.query(`drop table if exists public."${attacker}_loot"`);
    await db.query(`revoke all on schema public from "${attacker}"`);
    await db.query(`drop role if exists "${attacker}"`);
    await db.end();
  });
  await db.query(`create role "${attacker}" nologin`);
  await db.query(`grant usage, create on schema public to "${attacker}"`);
  await db.query(`set role "${attacker}"`);
  await db.query(`create table public."${attacker}_loot" (who text)`);
  await db.query(`grant insert on public."${attacker}_loot" to public`);
  return { attacker, db };
}

export function hijackTests(): void {
  test('postgres: an attacker role with CREATE on public cannot hijack distcache_refresh() called by a superuser', async (t) => {
    const h = await harness(t, 'postgres');
    const planted = ['public.to_json(text)', 'public.to_jsonb(text)', 'public.left(text, integer)', 'public.coalesce_x(text)'];
    const { attacker, db } = await plantingAttacker(
      t,
      planted.map((f) => `drop function if exists ${f}`),
    );
    // What the report did: an exact-type overload wins over pg_catalog's polymorphic one, and it
    // records whether it ran, with the caller's privileges (it could as well grant itself a role).
    for (const [name, type] of [
      ['to_json', 'json'],
      ['to_jsonb', 'jsonb'],
    ]) {
      await db.query(
        `create function public.${name}(text) returns ${type} language sql as
         $$ insert into public."${attacker}_loot" values (current_user) returning '"hijacked"'::${type} $$`,
      );
    }
    await db.query(
      `create function public.left(text, integer) returns text language sql as
       $$ insert into public."${attacker}_loot" values (current_user) returning 'sql:forged' $$`,
    );
    await db.query('reset role');
    await db.query(`set search_path = "$user", public`);
    const fn = `"${h.prefix}distcache_refresh"`;
    const { rows } = await db.query(`select ${fn}('product', '[1]'::jsonb) as id`);
    const [row] = await h.knex(h.table('cache_instruction')).where('id', Number(rows[0].id));
    assert.equal(row.json_instruction, '{"v":1,"instructions":[{"refresher":"product","kind":"refresh","ids":[1]}]}');
    assert.equal(row.originated, 'sql:postgres');
    const loot = await db.query(`select who from public."${attacker}_loot"`);
    assert.deepEqual(loot.rows, [], "no attacker function ran with the caller's privileges");
  });

  // The other half of the defence: with every built-in named with its schema, a planted function no
  // longer matches; what still resolves through the path is an operator (`||`, `=`). A caller whose
  // path puts public before pg_catalog (set by a role or database default) would run an attacker's
  // `public.||(text, text)` inside a function that does not pin its search_path.
  test("postgres: a planted public.||(text, text) never runs inside distcache_refresh(), whatever the caller's search_path", async (t) => {
    const h = await harness(t, 'postgres');
    const { attacker, db } = await plantingAttacker(t, (name) => [
      'reset search_path',
      'drop operator if exists public.|| (text, text)',
      `drop function if exists public."${name}_cat"(text, text)`,
    ]);
    await db.query(
      `create function public."${attacker}_cat"(a text, b text) returns text language sql as
       $$ insert into public."${attacker}_loot" values (current_user); select pg_catalog.textcat(a, b) $$`,
    );
    await db.query(`create operator public.|| (leftarg = text, rightarg = text, function = public."${attacker}_cat")`);
    await db.query('reset role');
    await db.query('set search_path = public, pg_catalog');
    const fn = `"${h.prefix}distcache_refresh"`;
    const { rows } = await db.query(`select ${fn}('product', '[1]'::jsonb) as id`);
    const [row] = await h.knex(h.table('cache_instruction')).where('id', Number(rows[0].id));
    assert.equal(row.json_instruction, '{"v":1,"instructions":[{"refresher":"product","kind":"refresh","ids":[1]}]}');
    const loot = await db.query(`select who from public."${attacker}_loot"`);
    assert.deepEqual(loot.rows, [], "the attacker's operator never ran with the definer's privileges");
  });
}
