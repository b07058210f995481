import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import knexFactory from 'knex';
import { migrate } from '../src/index.js';
import { dropPrefixed, freshPrefix, sqliteConfig, sqliteFile } from './support/databases.js';
import { waitFor } from './support/wait.js';

const SERVER = fileURLToPath(new URL('./support/sigterm-server.js', import.meta.url));

test("the README's SIGTERM snippet ends the process: after stop() nothing of distcache keeps it alive", { timeout: 30_000 }, async (t) => {
  const file = sqliteFile();
  const prefix = freshPrefix();
  const knex = knexFactory(sqliteConfig(file));
  await migrate(knex, { tablePrefix: prefix });
  t.after(async () => {
    await dropPrefixed(knex, prefix);
    await knex.destroy();
  });
  const child = fork(SERVER, [file, prefix], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.on('exit', (code, signal) => (exit = { code, signal }));
  t.after(() => void (exit ? undefined : child.kill('SIGKILL')));
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', () => reject(new Error('the server exited before it was ready')));
  });
  const sent = performance.now();
  child.kill('SIGTERM');
  // stopTimeout (10 s) bounds stop(); the process must end well within it once the handler returns.
  await waitFor(() => exit !== undefined, { timeout: 12_000, describe: () => 'the process is still alive after SIGTERM' });
  t.diagnostic(`exited ${(performance.now() - sent).toFixed(0)} ms after SIGTERM`);
  assert.deepEqual(exit, { code: 0, signal: null });
});
