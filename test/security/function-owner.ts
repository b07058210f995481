/**
 * Issue 22, "Functions that cannot be hijacked": the SECURITY DEFINER functions owned by a NOLOGIN
 * role holding INSERT on the log and nothing else, done by the migration path itself
 * (`migrate({ functionOwner })`, `distcache migrate --function-owner`), for a migrating user who is
 * no superuser: it owns its schema and may create roles, as a production migrator would.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import knexFactory, { type Knex } from 'knex';
import { errors, migrate } from '../../src/index.js';
import { checkFunctionOwner } from '../../src/migrations/function-owner.js';
import { dialectOfClient } from '../../src/dialects/dialect.js';
import { PG_URL } from '../support/databases.js';

const as = (role: string, schema: string): Knex =>
  knexFactory({
    client: 'pg',
    connection: PG_URL.replace(/\/\/[^@/]*@/, `//${role}@`),
    searchPath: [schema],
    pool: { min: 0, max: 4 },
  });

export function functionOwnerTests(): void {
  test('postgres: migrate({ functionOwner }) run by a non-superuser creates the NOLOGIN owner and hands it the functions', async (t) => {
    const tag = randomBytes(4).toString('hex');
    const migrator = `dc_migrator_${tag}`;
    const definer = `dc_definer_${tag}`;
    const writer = `dc_writer_${tag}`;
    const schema = `dc_schema_${tag}`;
    const root = knexFactory({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 2 } });
    const opened: Knex[] = [];
    t.after(async () => {
      await Promise.all(opened.map((k) => k.destroy()));
      await root.raw(`drop schema if exists "${schema}" cascade`);
      for (const role of [writer, definer, migrator]) {
        await root.raw(`drop owned by "${role}"`).catch(() => undefined);
        await root.raw(`drop role if exists "${role}"`);
      }
      await root.destroy();
    });
    await root.raw(`create role "${migrator}" login createrole`);
    await root.raw(`create schema "${schema}" authorization "${migrator}"`);
    await root.raw(`create role "${writer}" login`);
    const db = as(migrator, schema);
    opened.push(db);

    const first = await migrate(db, { functionOwner: definer });
    assert.ok(first.applied.length > 0);
    assert.deepEqual(
      first.ownedFunctions?.map((f) => f.replace(/\(.*/, '')),
      ['distcache_payload', 'distcache_refresh', 'distcache_refresh_all', 'distcache_remove', 'distcache_write'],
    );
    const [facts] = (
      await root.raw(
        `select r.rolcanlogin as login, r.rolsuper as superuser,
           has_schema_privilege(r.oid, ?, 'CREATE') as creates,
           has_table_privilege(r.oid, ?, 'INSERT') as inserts,
           has_table_privilege(r.oid, ?, 'DELETE') as deletes,
           has_table_privilege(r.oid, ?, 'SELECT') as reads_cursors,
           (select count(*) from pg_proc p where p.pronamespace = ?::regnamespace and p.prosecdef and p.proowner = r.oid)::int as owned
         from pg_roles r where r.rolname = ?`,
        [schema, `"${schema}".cache_instruction`, `"${schema}".cache_instruction`, `"${schema}".cache_cursor`, schema, definer],
      )
    ).rows;
    assert.deepEqual(facts, {
      login: false,
      superuser: false,
      creates: false,
      inserts: true,
      deletes: false,
      reads_cursors: false,
      owned: 5,
    });

    // A writer with EXECUTE alone writes through the definer's rights; the definer cannot log in.
    await db.raw(`grant usage on schema "${schema}" to "${writer}"`);
    await db.raw(`grant execute on function "${schema}".distcache_refresh(text, jsonb, text) to "${writer}"`);
    const w = as(writer, schema);
    opened.push(w);
    await w.raw(`select "${schema}".distcache_refresh('product', '[1]')`);
    assert.deepEqual(await db('cache_instruction').select('originated'), [{ originated: `sql:${writer}` }]);
    const login = as(definer, schema);
    opened.push(login);
    await assert.rejects(login.raw('select 1'), /not permitted to log in/);

    // Again, as every deploy would: nothing to apply, the same functions, still owned; the
    // migrating user, a member of the owner now, could still re-create them in a later migration.
    const again = await migrate(db, { functionOwner: definer });
    assert.deepEqual(again, { applied: [], ownedFunctions: first.ownedFunctions });

    // An owner that can log in, or owns the log, is refused before anything changes.
    await assert.rejects(migrate(db, { functionOwner: migrator }), (err: unknown) => {
      assert.ok(err instanceof errors.InvalidOptionError);
      assert.match(err.message, /can log in|owns/);
      return true;
    });
    await assert.rejects(migrate(db, { functionOwner: 'x"; drop table y; --' }), errors.InvalidOptionError);
  });

  test('functionOwner is refused on SQLite (no users) and checked as a plain name on MariaDB', () => {
    assert.throws(() => checkFunctionOwner('distcache_definer', dialectOfClient('better-sqlite3')!), /has no users/);
    assert.throws(() => checkFunctionOwner("x'@'%", dialectOfClient('mysql2')!), /plain user name/);
    assert.equal(checkFunctionOwner('distcache_owner', dialectOfClient('mysql2')!), 'distcache_owner');
    assert.equal(checkFunctionOwner('distcache_definer', dialectOfClient('pg')!), 'distcache_definer');
  });
}
