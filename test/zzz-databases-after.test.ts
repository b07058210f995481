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
  for (const [dialect, names] of Object.entries(after)) {
    const had = new Set(before.contents[dialect] ?? []);
    const left = names.filter((n) => !had.has(n));
    assert.deepEqual(left, [], `${dialect}: the run left ${left.length} tables or functions: ${left.slice(0, 20).join(', ')}`);
  }
});
