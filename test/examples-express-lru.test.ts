import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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

test('examples/express-lru: 3 Express processes on SQLite stay consistent', async () => {
  const { code, stdout, stderr } = await runExample('express-lru', {});
  assert.equal(code, 0, `exit code ${code}\n${stdout}\n${stderr}`);
  for (const name of ['web-1', 'web-2', 'web-3'])
    assert.match(stdout, new RegExp(`\\[main\\] GET /products/1 twice on ${name}: price 25 \\(cache miss, then hit\\)`));
  assert.match(stdout, /PUT \/products\/1 price 29 on web-1: 1 row in cache_instruction/);
  assert.match(stdout, /web-1 sees price 29 at once \(cache miss\)/, 'applied on the writing server before its response');
  assert.match(stdout, /web-2 sees price 29 after \d+ ms/);
  assert.match(stdout, /web-3 sees price 29 after \d+ ms/);
  assert.match(stdout, /POST \/prices \(3 products\) on web-2: 1 row written/);
  assert.match(stdout, /OK: 3 servers/);
});
