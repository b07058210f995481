import { describe } from 'node:test';
import { availability } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { bindingTests, cliSecretTests } from './security/secrets.js';

// Issue 22's "nothing secret printed" findings (test/security/secrets.ts).
checkLeaksAfterEach();
describe('security: secrets and terminal output', () => cliSecretTests());
for (const dialect of ['postgres', 'mysql'] as const) {
  describe(`security: bindings, ${dialect}`, { skip: await availability(dialect) }, () => bindingTests(dialect));
}
