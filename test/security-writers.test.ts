import { describe } from 'node:test';
import { availability, selectedDialects } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { amplificationTests, procedureTests, regionKeyTests } from './security/amplification.js';
import { triggerTests } from './security/trigger.js';

// Issue 22: unknown-refresher amplification, failure pruning, the SQL entry points' rules (test/security/amplification.ts), generated triggers (trigger.ts).
checkLeaksAfterEach();
for (const dialect of selectedDialects()) {
  describe(`security, writers: ${dialect}`, { skip: await availability(dialect) }, () => {
    amplificationTests(dialect);
    regionKeyTests(dialect);
    triggerTests(dialect);
    procedureTests(dialect);
  });
}
