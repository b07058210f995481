import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { databaseContents } from './support/database-contents.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const run = promisify(execFile);

/**
 * Tests that install things beyond a prefix's tables (SQL functions, generated triggers and their
 * functions) run twice in a row, each in a process of its own: both runs pass (nothing a run left
 * makes the next one fail), and the databases hold exactly what they held before (every table,
 * view, function and routine outside the system schemas). The end-of-suite check
 * (zzz-databases-after.test.ts) sees the whole run; this one names the file that leaves something.
 */
const FILES = ['conformance-sql-functions.test.js', 'conformance-triggers.test.js'];

for (const file of FILES) {
  test(`${file.replace(/\.js$/, '.ts')} run twice in a row passes both times and leaves the databases as it found them`, async () => {
    const path = fileURLToPath(new URL(`./${file}`, import.meta.url));
    const before = await databaseContents();
    for (const round of [1, 2]) {
      const result = await run(process.execPath, ['--test', '--test-concurrency=1', path], {
        // Without the parent runner's NODE_TEST_CONTEXT: with it, the child reports to this runner instead of running.
        env: { ...process.env, NODE_TEST_CONTEXT: undefined },
        maxBuffer: 64 * 1024 * 1024,
      }).catch((err: { stdout?: string; code?: number }) => ({ stdout: err.stdout ?? '', failed: err.code }));
      const failed = 'failed' in result ? result.failed : 0;
      const summary = /^# fail (\d+)$/m.exec(result.stdout)?.[1];
      assert.equal(failed, 0, `run ${round} of ${file} failed (# fail ${summary ?? '?'}):\n${result.stdout.slice(-4000)}`);
      const passed = Number(/^# pass (\d+)$/m.exec(result.stdout)?.[1] ?? 0);
      assert.ok(passed > 0, `run ${round} of ${file} ran its tests (# pass ${passed}):\n${result.stdout.slice(-2000)}`);
    }
    const after = await databaseContents();
    for (const [dialect, names] of Object.entries(after)) {
      const had = new Set(before[dialect] ?? []);
      assert.deepEqual(
        names.filter((n) => !had.has(n)),
        [],
        `${dialect}: ${file} run twice left these tables or functions`,
      );
    }
  });
}
