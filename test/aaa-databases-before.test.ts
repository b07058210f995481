import { test } from 'node:test';
import { checkLeaksAfterEach } from './support/leaks.js';
import { writeFileSync } from 'node:fs';
import { databaseContents, snapshotFile } from './support/database-contents.js';

checkLeaksAfterEach();

/**
 * The first file of `npm test` (files run in name order): records what the databases hold before
 * the run, for test/zzz-databases-after.test.ts, which checks that the run left nothing behind.
 */
test('record what the databases hold before the suite', async () => {
  writeFileSync(snapshotFile(), JSON.stringify({ at: Date.now(), contents: await databaseContents() }));
});
