import { describe } from 'node:test';
import { availability, selectedDialects } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { amplificationTests, procedureTests, regionKeyTests } from './security/amplification.js';
import { forgedCountTests } from './security/forged-count.js';
import { triggerTests } from './security/trigger.js';

// Issue 22: forged instruction counts (test/security/forged-count.ts), unknown-refresher amplification, failure
// pruning, the SQL entry points' rules (amplification.ts), generated triggers (trigger.ts).
checkLeaksAfterEach();
for (const dialect of selectedDialects()) {
  describe(`security, writers: ${dialect}`, { skip: await availability(dialect) }, () => {
    amplificationTests(dialect);
    forgedCountTests(dialect);
    regionKeyTests(dialect);
    triggerTests(dialect);
    procedureTests(dialect);
  });
}
