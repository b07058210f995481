import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import { cli, CLI, cliDatabase } from './support/cli-run.js';
import { availability, selectedDialects } from './support/databases.js';
import { recorder } from './support/recorder.js';
import { waitFor } from './support/wait.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const PASSWORD = 'hunter2-never-shown';
const TOKEN = 'operator-token-0123456789';

/** `distcache dashboard` as a process; resolves with its URL once it printed it. */
async function serve(t: TestContext, args: string[], env: Record<string, string> = {}): Promise<{ url: string; out: () => string }> {
  const child: ChildProcess = spawn(process.execPath, [CLI, 'dashboard', '--port', '0', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit');
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0, `Ctrl-C (SIGTERM) stops the dashboard cleanly: ${out}`);
  });
  await waitFor(() => /http:\/\/\S+\//.test(out) || child.exitCode !== null, { timeout: 20_000, describe: () => out });
  const url = /(http:\/\/\S+\/)/.exec(out)?.[1];
  assert.ok(url, out);
  return { url, out: () => out };
}

for (const dialect of selectedDialects()) {
  test(
    `distcache dashboard on ${dialect}: the page lists every live server; an action without authorization changes nothing`,
    {
      skip: await availability(dialect),
    },
    async (t) => {
      const passwordUrl = (url: string) => (dialect === 'postgres' ? url.replace('postgres@', `postgres:${PASSWORD}@`) : url);
      const db = await cliDatabase(dialect);
      t.after(() => db.close());
      await db.server('web-1', [recorder('product')]);
      await db.server('web-2', [recorder('product')]);
      const flags = ['--db', passwordUrl(db.url), '--prefix', db.prefix];

      const { url, out } = await serve(t, flags);
      assert.match(out(), /^distcache dashboard: http:\/\/127\.0\.0\.1:\d+\/ .*read-only/m, 'binds to localhost by default');
      const page = await fetch(url);
      assert.equal(page.status, 200);
      const html = await page.text();
      for (const identity of ['web-1', 'web-2']) assert.match(html, new RegExp(`data-identity="${identity}"`));
      const before = await db.snapshot(['instruction', 'cursor', 'failure', 'action']);
      const refused = await fetch(`${url}api/servers/web-1/resync`, { method: 'POST' });
      assert.ok(refused.status === 401 || refused.status === 403, `refused: ${refused.status}`);
      const all = await fetch(`${url}api/resync-all`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(all.status, 403, 'read-only: no token opens it');
      assert.equal(await db.snapshot(['instruction', 'cursor', 'failure', 'action']), before, 'nothing changed');
      assert.ok(!out().includes(PASSWORD) && !html.includes(PASSWORD), 'the database URL is masked everywhere');
    },
  );
}

test('distcache dashboard --allow-actions: needs a token in the environment; acts for a request with it and the page token', async (t) => {
  const db = await cliDatabase('sqlite');
  t.after(() => db.close());
  await db.server('web-1', [recorder('product')]);
  const missing = await cli(['dashboard', '--allow-actions', ...db.flags]);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /DISTCACHE_DASHBOARD_TOKEN/);

  const { url, out } = await serve(t, ['--allow-actions', ...db.flags], { DISTCACHE_DASHBOARD_TOKEN: TOKEN });
  const csrf = /name="distcache-csrf" content="([^"]+)"/.exec(await (await fetch(url)).text())![1]!;
  const wrong = await fetch(`${url}api/servers/web-1/resync`, {
    method: 'POST',
    headers: { authorization: 'Bearer nope', 'x-distcache-csrf': csrf },
  });
  assert.equal(wrong.status, 403);
  const noCsrf = await fetch(`${url}api/servers/web-1/resync`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(noCsrf.status, 403);
  const done = await fetch(`${url}api/servers/web-1/resync`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'x-distcache-csrf': csrf },
  });
  assert.equal(done.status, 200, await done.clone().text());
  assert.match(((await done.json()) as { originated: string }).originated, /^dashboard:token\(127\.0\.0\.1\)@/);
  await waitFor(() => / resync web-1 by dashboard:token/.test(out()), { describe: out });
  const listed = await cli(['actions', ...db.flags]);
  assert.match(listed.stdout, /resync\s+web-1\s+dashboard:token\(127\.0\.0\.1\)@/, 'recorded in the database: distcache actions lists it');
  const cursor = await db.knex(`${db.prefix}cache_cursor`).where({ server_identity: 'web-1' }).first();
  assert.ok(cursor.cold_boot_requested === true || Number(cursor.cold_boot_requested) === 1);
});
