import { describe } from 'node:test';
import { pruneMidPageTests } from './faults/prune-mid-page.js';
import { availability, selectedDialects } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';

// A prune between a page's two statements (test/faults/prune-mid-page.ts): MySQL's and SQLite's readers only;
// PostgreSQL's page is one statement.
checkLeaksAfterEach();
for (const dialect of selectedDialects().filter((d) => d !== 'postgres')) {
  describe(`prune between a page's rows and its bodies: ${dialect}`, { skip: await availability(dialect) }, () => {
    pruneMidPageTests(dialect);
  });
}
