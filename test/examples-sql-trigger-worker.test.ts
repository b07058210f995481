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

test(
  'examples/sql-trigger-worker: a trigger turns plain SQL changes into cache instructions',
  { skip: await availability('postgres') },
  async () => {
    const { code, stdout, stderr } = await runExample('sql-trigger-worker', { TABLE_PREFIX: freshPrefix() });
    assert.equal(code, 0, `exit code ${code}\n${stdout}\n${stderr}`);
    assert.match(stdout, /\[worker\] raise every tea price by 10%: 2 rows, one statement/);
    assert.match(stdout, /the worker's 3 statements wrote 3 instruction rows/);
    // The trigger writes distcache's JSON format; one statement, one row, every id.
    const rows = [...stdout.matchAll(/^\[main\] {3}trigger:\w+: (.*)$/gm)].map((m) => JSON.parse(m[1]!));
    assert.deepEqual(rows, [
      { v: 1, instructions: [{ refresher: 'product', kind: 'refresh', ids: [42] }] },
      { v: 1, instructions: [{ refresher: 'product', kind: 'refresh', ids: [42, 43] }] },
      { v: 1, instructions: [{ refresher: 'product', kind: 'remove', ids: [44] }] },
    ]);
    for (const web of ['web-1', 'web-2'])
      assert.match(stdout, new RegExp(`\\[main\\] ${web} sees 42 at 23\\.65, 43 at 13\\.20 and 44 gone`));
    assert.match(stdout, /OK: plain SQL changed the data/);
  },
);
