import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import knexFactory, { type Knex } from 'knex';
import { migrate } from '../src/index.js';
import { availability, DATABASES, dropPrefixed, freshPrefix, sqliteConfig, sqliteFile } from './support/databases.js';
import { lifecycleServer, range, receivedOrColdBooted, write, type LifecycleServer } from './support/lifecycle.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const run = promisify(execFile);

/**
 * The commit-ordered stores' form of the issue-15 hazard: the log goes back in time (an older dump
 * or file copy restored) under a server whose position is past the restored head. The rule: every
 * instruction written after the restore reaches the server, or it cold-boots.
 */
type Server = LifecycleServer;
const server = (knex: Knex, prefix: string, identity: string) => lifecycleServer(knex, prefix, identity);

describe('the log goes back in time on SQLite', () => {
  test('the file restored from an older copy while servers run: a server past the restored head cold-boots', async () => {
    const file = sqliteFile();
    const copy = `${file}.old`;
    const knex = knexFactory(sqliteConfig(file));
    const servers: Server[] = [];
    try {
      await migrate(knex, { tablePrefix: 'lc_' });
      const writer = await server(knex, 'lc_', 'writer');
      const reader = await server(knex, 'lc_', 'reader');
      servers.push(writer, reader);
      await write(writer, range(1, 5));
      await reader.cache.sync();
      await knex.raw('vacuum into ?', [copy]);
      await write(writer, range(10, 5));
      await reader.cache.sync();
      assert.deepEqual(reader.product.refreshedIds(), [...range(1, 5), ...range(10, 5)]);

      // The restore, as `sqlite3 app.sqlite ".restore app.sqlite.old"` does it: through SQLite's
      // backup API, under its locks, so the running servers see a changed database, not a torn file.
      const old = new Database(copy, { readonly: true });
      await old.backup(file);
      old.close();

      const bootsBefore = reader.boots.length;
      const written = range(20, 3); // fewer rows than the log went back: their ids are below the reader's position
      await write(writer, written);
      await reader.cache.sync();
      assert.ok(receivedOrColdBooted(reader, written, bootsBefore), `got ${JSON.stringify(reader.product.refreshedIds())}`);
      assert.equal(reader.boots[bootsBefore]?.reason, 'database-changed');
      assert.match(reader.boots[bootsBefore]?.detail ?? '', /past the log's head/);
      const later = range(30, 3);
      await write(writer, later);
      await reader.cache.sync();
      assert.deepEqual(
        later.filter((id) => !reader.product.refreshedIds().includes(id)),
        [],
        'then instructions flow again',
      );
    } finally {
      for (const s of servers) await s.cache.stop();
      await knex.destroy();
      for (const f of [file, copy, `${file}-wal`, `${file}-shm`]) await rm(f, { force: true });
    }
  });

  test('the file replaced by an older copy between runs: a server that restarts receives everything written since', async () => {
    const file = sqliteFile();
    const copy = `${file}.old`;
    const cleanup = [file, copy, `${file}-wal`, `${file}-shm`];
    try {
      let knex = knexFactory(sqliteConfig(file));
      await migrate(knex, { tablePrefix: 'lc_' });
      let writer = await server(knex, 'lc_', 'writer');
      let reader = await server(knex, 'lc_', 'reader');
      await write(writer, range(1, 5));
      await reader.cache.sync();
      await knex.raw('vacuum into ?', [copy]);
      await write(writer, range(10, 5));
      await reader.cache.sync();
      await writer.cache.stop();
      await reader.cache.stop();
      await knex.destroy();

      // Between runs the operator copies the old file over the live one.
      await rm(`${file}-wal`, { force: true });
      await rm(`${file}-shm`, { force: true });
      await writeFile(file, await readFile(copy));

      knex = knexFactory(sqliteConfig(file));
      writer = await server(knex, 'lc_', 'writer');
      const written = range(20, 3);
      await write(writer, written);
      reader = await server(knex, 'lc_', 'reader');
      try {
        assert.ok(
          receivedOrColdBooted(reader, written, 0),
          `got ${JSON.stringify(reader.product.refreshedIds())}, boots ${JSON.stringify(reader.boots)}`,
        );
        assert.deepEqual(
          reader.product.refreshedIds().filter((id) => typeof id === 'number' && id < 10),
          [],
          'nothing of before the copy is applied again',
        );
      } finally {
        await writer.cache.stop();
        await reader.cache.stop();
        await knex.destroy();
      }
    } finally {
      for (const f of cleanup) await rm(f, { force: true });
    }
  });
});

const mysqlSkip = await availability('mysql');
const dumpTool = ['/usr/bin/mariadb-dump', '/usr/bin/mysqldump'].find((p) => existsSync(p));
const clientTool = ['/usr/bin/mariadb', '/usr/bin/mysql'].find((p) => existsSync(p));
function toolsSkip(): string | false {
  if (mysqlSkip || (dumpTool && clientTool)) return mysqlSkip;
  const line = 'mariadb-dump or the mariadb client is missing; the MariaDB restore test is skipped.';
  if (process.env.CI === 'true') throw new Error(`CI=true: ${line}`);
  console.log(`# ${line}`);
  return line;
}

describe('the log goes back in time on MariaDB', { skip: toolsSkip() }, () => {
  test('an older dump of the tables restored into the live database while a reader stays up: the reader cold-boots', async () => {
    const prefix = freshPrefix();
    const knex = knexFactory(DATABASES.mysql.config());
    const readerKnex = knexFactory(DATABASES.mysql.config());
    const servers: Server[] = [];
    const dump = `/tmp/distcache-lc-${prefix}.sql`;
    const url = new URL(process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test');
    const connArgs = [
      '-h',
      url.hostname,
      '-P',
      url.port || '3306',
      '-u',
      decodeURIComponent(url.username || 'root'),
      ...(url.password ? [`-p${decodeURIComponent(url.password)}`] : []),
    ];
    const database = url.pathname.slice(1);
    try {
      await migrate(knex, { tablePrefix: prefix });
      const writer = await server(knex, prefix, 'writer');
      const reader = await server(readerKnex, prefix, 'reader');
      servers.push(writer, reader);
      await write(writer, range(1, 5));
      await reader.cache.sync();

      // Only this test's tables (and their triggers), never anything else in the shared database.
      const [tables] = await knex.raw(
        'select table_name as name from information_schema.tables where table_schema = database() and table_name like ?',
        [`${prefix}%`],
      );
      const names = (tables as Array<{ name: string }>).map((t) => t.name);
      assert.ok(names.includes(`${prefix}cache_instruction`));
      const { stdout } = await run(dumpTool!, [...connArgs, '--single-transaction', database, ...names], { maxBuffer: 64 * 1024 * 1024 });
      await writeFile(dump, stdout);

      await write(writer, range(10, 5));
      await reader.cache.sync();
      assert.deepEqual(reader.product.refreshedIds(), [...range(1, 5), ...range(10, 5)]);

      await run('sh', ['-c', `"$0" "$@" < '${dump}'`, clientTool!, ...connArgs, database]);

      const bootsBefore = reader.boots.length;
      const written = range(20, 3);
      await write(writer, written);
      await reader.cache.sync();
      assert.ok(receivedOrColdBooted(reader, written, bootsBefore), `got ${JSON.stringify(reader.product.refreshedIds())}`);
      assert.equal(reader.boots[bootsBefore]?.reason, 'database-changed');
      assert.match(reader.boots[bootsBefore]?.detail ?? '', /past the log's head/);
      const later = range(30, 3);
      await write(writer, later);
      await reader.cache.sync();
      assert.deepEqual(
        later.filter((id) => !reader.product.refreshedIds().includes(id)),
        [],
      );
    } finally {
      for (const s of servers) await s.cache.stop();
      await readerKnex.destroy();
      await dropPrefixed(knex, prefix);
      await knex.destroy();
      await rm(dump, { force: true });
    }
  });
});
