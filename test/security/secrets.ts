/**
 * Issue 22's "nothing secret printed" findings: the CLI printed passwords with an `@` or a space
 * (maskUrl stopped at the first `@` and at whitespace; the driver uses the last `@`), knex's
 * inlined bindings (a payload, a card number) reached health() and last_error, redact() was
 * quadratic, SQL-written refresher names reached the terminal raw, and `status --db` executed
 * ./knexfile.js.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { format } from 'node:util';
import knexFactory from 'knex';
import { harness } from '../conformance/harness.js';
import { defaultLogger } from '../../src/logger.js';
import { recorder } from '../support/recorder.js';
import { describeError, redact } from '../../src/errors.js';
import { cli, cliDatabase } from '../support/cli-run.js';
import { DATABASES, type DialectName } from '../support/databases.js';

export function cliSecretTests(): void {
  test('the CLI never prints a password holding "@" or a space, raw or percent-decoded', async () => {
    for (const [url, secret] of [
      ['postgres://u:p@ss-Secret99@127.0.0.1:1/db', 'Secret99'],
      ['postgres://u:pass word99@127.0.0.1:1/db', 'word99'],
      ['postgres://u:p%40ss%20Decoded7@127.0.0.1:1/db', 'Decoded7'],
      ['mysql://u:at@Mysql-Secret5@127.0.0.1:1/db', 'Secret5'],
    ] as const) {
      const result = await cli(['status', '--db', url]);
      const printed = result.stdout + result.stderr;
      assert.notEqual(result.code, 0);
      assert.ok(!printed.includes(secret), `${url} printed its password: ${printed.slice(0, 400)}`);
      assert.match(printed, /\*\*\*/, 'the masked URL is still shown');
    }
  });

  test('with --db or a URL in the environment, the CLI does not execute ./knexfile.js', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'distcache-knexfile-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const marker = join(dir, 'ran');
    writeFileSync(join(dir, 'knexfile.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x'); module.exports = {};\n`);
    writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}\n');
    const url = `sqlite://${join(dir, 'db.sqlite')}`;
    await cli(['status', '--db', url], { cwd: dir });
    assert.equal(existsSync(marker), false, 'the knexfile ran (--db)');
    for (const name of ['DISTCACHE_DATABASE_URL', 'DATABASE_URL']) {
      await cli(['status'], { cwd: dir, env: { [name]: url } });
      assert.equal(existsSync(marker), false, `the knexfile ran (${name})`);
    }
    // Asked for: then it runs (so the two checks above could see it).
    await cli(['status'], { cwd: dir, env: { DATABASE_URL: url, DISTCACHE_KNEXFILE: '1' } });
    assert.equal(existsSync(marker), true, 'DISTCACHE_KNEXFILE=1 reads the knexfile');
  });

  test('tail prints SQL-written control characters (ESC, BEL, CR, newline) escaped', async (t) => {
    const db = await cliDatabase('sqlite');
    t.after(() => db.close());
    const evil = 'x\u001b[2J\u0007\r\nforged line';
    await db.knex(`${db.prefix}cache_instruction`).insert({
      json_instruction: JSON.stringify({ v: 1, instructions: [{ refresher: evil, kind: 'refresh-all' }] }),
      originated: `sql:\u001b]0;title\u0007`,
      instruction_count: 1,
    });
    for (const command of [['tail'], ['show', '1'], ['failures']]) {
      const result = await cli([...command, ...db.flags]);
      const raw = [...(result.stdout + result.stderr)].filter((c) => c !== '\n' && (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f));
      assert.deepEqual(raw, [], `${command[0]}: ${JSON.stringify(result.stdout)}`);
    }
  });

  test("the default logger's lines carry SQL-written control characters escaped", async (t) => {
    const h = await harness(t, 'sqlite');
    const lines: string[] = [];
    const warn = console.warn;
    const error = console.error;
    console.warn = (...args: unknown[]) => void lines.push(format(...args));
    console.error = (...args: unknown[]) => void lines.push(format(...args));
    t.after(() => {
      console.warn = warn;
      console.error = error;
    });
    const cache = h.cache({ serverIdentity: 'logged', refreshers: [recorder()], logger: defaultLogger });
    await cache.start();
    const evil = 'x\u001b[2J\u0007\r\nforged line';
    await h.knex(h.table('cache_instruction')).insert({
      json_instruction: JSON.stringify({ v: 1, instructions: [{ refresher: evil, kind: 'refresh-all' }] }),
      originated: `sql:\u001b]0;title\u0007`,
      instruction_count: 1,
    });
    await cache.sync();
    await cache.stop();
    console.warn = warn;
    console.error = error;
    assert.ok(
      lines.some((line) => line.includes('\\x1b') || line.includes('\\x1B')),
      JSON.stringify(lines).slice(0, 500),
    );
    const raw = lines
      .join('')
      .split('')
      .filter((c) => c !== '\n' && (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f));
    assert.deepEqual(raw, [], JSON.stringify(lines).slice(0, 500));
  });

  test('redact() runs in linear time on hostile text', () => {
    const started = performance.now();
    for (const text of [
      'a'.repeat(40_000) + '://' + 'b'.repeat(40_000),
      'x://a:'.repeat(20_000),
      ':// '.repeat(40_000),
      'u:p@'.repeat(20_000),
    ]) {
      redact(text);
    }
    // The quadratic regex took 2 s on one 40,000-character run; this bound has a wide margin for a loaded machine.
    assert.ok(performance.now() - started < 1000, `${(performance.now() - started).toFixed(0)} ms`);
  });
}

/** A failed statement's bindings (a card number) never reach describeError(), which health() and last_error use. */
export function bindingTests(dialect: Exclude<DialectName, 'sqlite'>): void {
  test(`${dialect}: a failed statement's inlined bindings never reach health() or last_error (describeError)`, async (t) => {
    const knex = knexFactory(DATABASES[dialect].config());
    t.after(() => knex.destroy());
    const card = '4111111111111111';
    const err = await knex('distcache_no_such_table')
      .insert({ card })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof Error);
    // knex inlines `?` bindings into the message (MySQL); PostgreSQL's $1 placeholders stay as they are.
    if (dialect === 'mysql') assert.ok(err.message.includes(card), 'knex inlines the binding into the message');
    const described = describeError(err);
    assert.ok(!described.includes(card), described);
    assert.match(described, /distcache_no_such_table/, 'the database message itself is kept');
  });
}
