/**
 * Issue 22, "On MariaDB the procedures run as their definer": the migrating user (often root), so a
 * writer allowed EXECUTE acted with all of root's rights inside them. `migrate({ functionOwner })`
 * now re-defines them with DEFINER = a locked account holding INSERT on the log and EXECUTE on
 * the procedures alone (src/migrations/procedure-definer.ts); writers' EXECUTE grants survive it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import knexFactory, { type Knex } from 'knex';
import { errors, migrate } from '../../src/index.js';
import { harness } from '../conformance/harness.js';
import { MYSQL_URL } from '../support/databases.js';

export function procedureDefinerTests(): void {
  const name = 'mysql: migrate({ functionOwner }) makes a locked account the definer; a writer with EXECUTE calls, never touches the table';
  test(name, async (t) => {
    const tag = randomBytes(4).toString('hex');
    const owner = `dc_owner_${tag}`;
    const writer = `dc_writer_${tag}`;
    const broad = `dc_broad_${tag}`;
    const password = randomBytes(12).toString('hex');
    const opened: Knex[] = [];
    t.after(async () => {
      await Promise.all(opened.map((k) => k.destroy()));
      for (const user of [owner, writer, broad]) await h.knex.raw(`drop user if exists '${user}'@'%'`);
    });
    const h = await harness(t, 'mysql');
    const p = h.prefix;
    const instruction = h.table('cache_instruction');
    const as = (user: string, secret = password): Knex => {
      const login = new URL(MYSQL_URL);
      login.username = user;
      login.password = secret;
      const k = knexFactory({ client: 'mysql2', connection: login.toString(), pool: { min: 0, max: 2 } });
      opened.push(k);
      return k;
    };
    // A writer granted EXECUTE before the hand-over keeps it (CREATE OR REPLACE, never a DROP).
    await h.knex.raw(`create user '${writer}'@'%' identified by '${password}'`);
    await h.knex.raw(`grant execute on procedure \`${p}distcache_refresh\` to '${writer}'@'%'`);

    const result = await migrate(h.knex, { tablePrefix: p, functionOwner: owner });
    const names = ['payload', 'refresh', 'refresh_all', 'remove', 'write'].map((n) => `${p}distcache_${n}`);
    assert.deepEqual(result.ownedFunctions, names);
    const definers = async () =>
      (
        (await h.knex.raw(
          'select definer from information_schema.routines where routine_schema = database() and routine_name like ? order by 1',
          [`${p}distcache%`],
        )) as [Array<{ definer: string }>]
      )[0].map((r) => r.definer);
    assert.deepEqual(
      await definers(),
      names.map(() => `${owner}@%`),
    );
    // Idempotent, and the grants made in between stay.
    await h.knex.raw(`grant execute on procedure \`${p}distcache_refresh_all\` to '${writer}'@'%'`);
    assert.deepEqual((await migrate(h.knex, { tablePrefix: p, functionOwner: owner })).ownedFunctions, names);

    // The owner: locked, holding the log's INSERT and EXECUTE on the procedures, nothing else.
    const grants = ((await h.knex.raw(`show grants for '${owner}'@'%'`)) as [Array<Record<string, string>>])[0]
      .map((r) => Object.values(r)[0]!)
      .sort();
    assert.equal(grants.length, 2 + names.length, grants.join('\n'));
    for (const name of names) assert.match(grants.join('\n'), new RegExp(`GRANT EXECUTE ON PROCEDURE \`[^\`]+\`\\.\`${name}\``));
    assert.match(grants.join('\n'), new RegExp(`GRANT INSERT ON \`[^\`]+\`\\.\`${instruction}\``));
    assert.match(grants.join('\n'), /GRANT USAGE ON \*\.\*/);
    await h.knex.raw(`alter user '${owner}'@'%' identified by '${password}'`);
    await assert.rejects(as(owner).raw('select 1'), /locked/i, 'the owner cannot log in');

    // The writer: calls what it was granted; its rows name it; it cannot read or write the table.
    const w = as(writer);
    await w.raw(`call \`${p}distcache_refresh\`('product', '[1]', null)`);
    await w.raw(`call \`${p}distcache_refresh_all\`('product', null)`);
    const rows = await h.knex(instruction).select('originated', 'json_instruction').orderBy('id');
    assert.equal(rows.length, 2);
    for (const row of rows) assert.match(row.originated, new RegExp(`^sql:${writer}@`), 'originated names the caller');
    const refused = /denied/;
    await assert.rejects(
      w(instruction).insert({ json_instruction: '{}', originated: 'cli:root@ops-bastion', instruction_count: 1 }),
      refused,
    );
    await assert.rejects(w(instruction).select('id'), refused);
    await assert.rejects(w.raw(`call \`${p}distcache_payload\`('product', '{"price": 0}', null)`), refused);
    await assert.rejects(w.raw(`call \`${p}distcache_write\`('refresh', 'product', '[1]', null)`), refused);

    // An owner already holding more than the log is refused.
    await h.knex.raw(`create user '${broad}'@'%' account lock`);
    await h.knex.raw(`grant select on *.* to '${broad}'@'%'`);
    await assert.rejects(migrate(h.knex, { tablePrefix: p, functionOwner: broad }), errors.InvalidOptionError);
    await assert.rejects(migrate(h.knex, { tablePrefix: p, functionOwner: "x'@'%'; drop table y; --" }), errors.InvalidOptionError);
  });
}
