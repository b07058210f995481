import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkLeaksAfterEach } from './support/leaks.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { databaseContents, snapshotFile } from './support/database-contents.js';

checkLeaksAfterEach();

/**
 * The last file of `npm test`: the run left nothing in the databases it was given (DATABASE_URL,
 * MYSQL_URL), compared with what test/aaa-databases-before.test.ts found there. On a database other
 * people's runs share at the same time their tables show up too: point the suite at a database of
 * its own (see docs/testing.md) for an exact answer.
 */
test('the suite left nothing in the databases it used', async (t) => {
  const file = snapshotFile();
  if (!existsSync(file)) return t.skip('no record from the start of the run (this file was run alone)');
  const before = JSON.parse(readFileSync(file, 'utf8')) as { contents: Record<string, string[]> };
  rmSync(file, { force: true });
  const after = await databaseContents();
  // Fails the run. DISTCACHE_STRICT_CLEANUP=0 only reports, for a database other runs share at the
  // same time (their tables show up here too).
  const strict = process.env.DISTCACHE_STRICT_CLEANUP !== '0';
  for (const [dialect, names] of Object.entries(after)) {
    const had = new Set(before.contents[dialect] ?? []);
    const left = names.filter((n) => !had.has(n));
    const message =
      `${dialect}: the run left ${left.length} tables or functions: ${left.slice(0, 20).join(', ')} ` +
      '(the prefix t<pid>_ names the test process that made them; DISTCACHE_KEEP_TABLES=1 keeps them on purpose)';
    if (strict) assert.deepEqual(left, [], message);
    else if (left.length > 0) t.diagnostic(message);
  }
});
