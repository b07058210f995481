import { describe } from 'node:test';
import { availability, selectedDialects } from './support/databases.js';
import { sqlFunctionTests } from './conformance/sql-functions.js';

// The conformance suite runs these too; this file runs them alone.
for (const dialect of selectedDialects()) {
  describe(`sql functions: ${dialect}`, { skip: await availability(dialect) }, () => sqlFunctionTests(dialect));
}
