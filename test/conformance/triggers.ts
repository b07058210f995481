import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { harness, type Harness } from './harness.js';
import { recorder } from '../support/recorder.js';
import { cli } from '../support/cli-run.js';
import { MYSQL_URL, PG_URL, type DialectName } from '../support/databases.js';

const run = promisify(execFile);

/** The database URL the CLI and the database's own client use for this harness. */
function urlOf(h: Harness): string {
  if (h.dialect === 'postgres') return PG_URL;
  if (h.dialect === 'mysql') return MYSQL_URL;
  return `sqlite://${(h.knex.client.config as { connection: { filename: string } }).connection.filename}`;
}

/** Runs `sql` through the database's own command-line client: psql, mariadb or sqlite3. */
async function shell(h: Harness, sql: string): Promise<void> {
  if (h.dialect === 'postgres') await run('psql', [PG_URL, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql]);
  else if (h.dialect === 'mysql') {
    const url = new URL(MYSQL_URL);
    await run('mariadb', [
      '-h',
      url.hostname,
      '-P',
      url.port || '3306',
      '-u',
      decodeURIComponent(url.username),
      url.pathname.slice(1),
      '-e',
      sql,
    ]);
  } else await run('sqlite3', ['-cmd', '.timeout 10000', urlOf(h).slice('sqlite://'.length), sql]);
}

/** `distcache trigger`: the generated trigger, installed by the CLI, fired by the database's own client. */
export function triggerTests(dialect: DialectName): void {
  const triggerTest =
    'distcache trigger: an UPDATE from the database CLI reaches every server; a rolled-back one reaches none; DELETE removes';
  test(triggerTest, async (t) => {
    const h = await harness(t, dialect);
    const table = `${h.prefix}app_data`;
    await h.knex.schema.createTable(table, (tb) => {
      tb.integer('id').primary();
      tb.string('note', 64);
    });
    await h.knex(table).insert([1, 2, 3, 4].map((id) => ({ id, note: 'a' })));
    const args = ['trigger', table, '--refresher', 'product', '--key', 'id', '--row-limit', '2', '--db', urlOf(h), '--prefix', h.prefix];

    // --dry-run prints the SQL and installs nothing; --migration writes a knex migration file.
    const dry = await cli([...args, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /create trigger/i);
    const file = join(tmpdir(), `${h.prefix}trigger.mjs`);
    t.after(() => rm(file, { force: true }));
    const written = await cli([...args, '--migration', file]);
    assert.equal(written.code, 0, written.stderr);
    assert.match(await readFile(file, 'utf8'), /export async function up\(knex\)[\s\S]*create trigger/i);
    await shell(h, `update ${table} set note = 'dry' where id = 1`);
    assert.equal(Number((await h.knex(h.table('cache_instruction')).count({ n: '*' }).first())?.n), 0, 'nothing installed yet');

    const installed = await cli(args);
    assert.equal(installed.code, 0, installed.stderr);
    const servers = [0, 1].map((i) => {
      const r = recorder();
      return { r, cache: h.cache({ serverIdentity: `s-${i}`, refreshers: [r], knex: h.connection() }) };
    });
    for (const { cache } of servers) await cache.start();

    await shell(h, `update ${table} set note = 'b' where id in (1, 2)`);
    await shell(h, `begin; update ${table} set note = 'rolled back' where id = 4; rollback;`);
    await shell(h, `delete from ${table} where id = 3`);
    for (const { r, cache } of servers) {
      await cache.sync();
      assert.deepEqual(r.refreshedIds().map(Number).sort(), [1, 2]);
      assert.deepEqual(
        r.calls.filter((c) => c.kind === 'remove'),
        [{ kind: 'remove', ids: [3] }],
      );
    }
    // Past the row limit: PostgreSQL's statement trigger sends one refresh-all; row triggers send each row.
    await shell(h, `update ${table} set note = 'c'`);
    for (const { cache } of servers) await cache.sync();
    await shell(h, `insert into ${table} (id, note) values (5, 'new')`);
    for (const { r, cache } of servers) {
      await cache.sync();
      const ids = r.refreshedIds().map(Number).sort();
      if (dialect === 'postgres') {
        assert.ok(
          r.calls.some((c) => c.kind === 'refresh-all'),
          JSON.stringify(r.calls),
        );
        assert.ok(ids.includes(5));
      } else {
        assert.deepEqual(ids, [1, 1, 2, 2, 4, 5]);
      }
    }
    const rows = await h.knex(h.table('cache_instruction')).count({ n: '*' }).first();
    assert.equal(Number(rows?.n), dialect === 'postgres' ? 4 : 7, 'one row per statement on PostgreSQL, per changed row elsewhere');
  });
}
