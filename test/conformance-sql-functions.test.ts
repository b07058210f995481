import { describe } from 'node:test';
import { availability, selectedDialects } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';

import { sqlFunctionTests } from './conformance/sql-functions.js';

checkLeaksAfterEach();

// The SQL functions of migration 005 on every database; only this file runs them (conformance/suite.ts does not).
for (const dialect of selectedDialects()) {
  describe(`sql functions: ${dialect}`, { skip: await availability(dialect) }, () => sqlFunctionTests(dialect));
}
