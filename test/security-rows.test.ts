import { describe } from 'node:test';
import { availability, selectedDialects } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { adminReadTests } from './security/admin-reads.js';
import { oversizeRowTests, rowBoundTests } from './security/oversize.js';

// Issue 22's first finding: bounded rows (test/security/oversize.ts), for the operator's reads too (admin-reads.ts).
checkLeaksAfterEach();
for (const dialect of selectedDialects()) {
  describe(`security, bounded rows: ${dialect}`, { skip: await availability(dialect) }, () => {
    rowBoundTests(dialect);
    oversizeRowTests(dialect);
    adminReadTests(dialect);
  });
}
