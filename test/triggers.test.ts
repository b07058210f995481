import { describe } from 'node:test';
import { availability, selectedDialects } from './support/databases.js';
import { triggerTests } from './conformance/triggers.js';

// The conformance suite runs these too; this file runs them alone.
for (const dialect of selectedDialects()) {
  describe(`generated triggers: ${dialect}`, { skip: await availability(dialect) }, () => triggerTests(dialect));
}
