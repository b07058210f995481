import { describe } from 'node:test';
import { availability } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { functionOwnerTests } from './security/function-owner.js';
import { hijackTests } from './security/hijack.js';
import { notifyFloodTests } from './security/notify-flood.js';
import { rolesTests } from './security/roles.js';

// Issue 22's PostgreSQL findings: the search_path hijack, the writer trust boundary (roles), the NOTIFY flood.
checkLeaksAfterEach();
describe('security: postgres', { skip: await availability('postgres') }, () => {
  hijackTests();
  rolesTests('postgres');
  functionOwnerTests();
  notifyFloodTests();
});
