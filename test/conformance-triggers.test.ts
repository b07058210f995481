import { describe } from 'node:test';
import { availability, selectedDialects } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';

import { triggerTests } from './conformance/triggers.js';

checkLeaksAfterEach();

// Generated triggers (distcache trigger) on every database; only this file runs them (conformance/suite.ts does not).
for (const dialect of selectedDialects()) {
  describe(`generated triggers: ${dialect}`, { skip: await availability(dialect) }, () => triggerTests(dialect));
}
