import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { availability, freshPrefix } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/** Runs an example the way its README says, as a subprocess bounded by `timeout`, and returns its output. */
function runExample(
  name: string,
  env: Record<string, string>,
  timeout = 120_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const main = fileURLToPath(new URL(`../examples/${name}/main.js`, import.meta.url));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [main],
      { env: { ...process.env, ...env }, timeout, killSignal: 'SIGKILL', maxBuffer: 10 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        resolve({ code: err ? (typeof code === 'number' ? code : null) : 0, stdout, stderr });
      },
    );
  });
}

test('examples/fastify-postgres: two Fastify servers on PostgreSQL, with metrics', { skip: await availability('postgres') }, async () => {
  const { code, stdout, stderr } = await runExample('fastify-postgres', { TABLE_PREFIX: freshPrefix() });
  assert.equal(code, 0, `exit code ${code}\n${stdout}\n${stderr}`);
  assert.match(stdout, /app-1 listening on http:\/\/127\.0\.0\.1:\d+; product 42 costs 199 there/);
  assert.match(stdout, /app-2 sees price 179 after \d+ ms/);
  assert.match(stdout, /^\[main\] {3}distcache_instructions_written_total\{refresher="product"\} 1$/m);
  assert.match(stdout, /^\[main\] {3}distcache_instructions_applied_total\{refresher="product",kind="refresh",source="remote"\} 1$/m);
  assert.match(stdout, /^\[main\] {3}distcache_sync_lag_instructions \d+$/m);
  assert.match(stdout, /^\[main\] {3}distcache_role\{role="[a-z-]+"\} 1$/m);
  assert.match(stdout, /OK: the change reached every server/);
});
