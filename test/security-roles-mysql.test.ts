import { describe } from 'node:test';
import { availability } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { procedureDefinerTests } from './security/procedure-definer.js';
import { rolesTests } from './security/roles.js';

// Issue 22's least-privilege users on MariaDB/MySQL (test/security/roles.ts; PostgreSQL's run in security-postgres), and the
// procedures' locked definer (procedure-definer.ts).
checkLeaksAfterEach();
describe('security: mysql users', { skip: await availability('mysql') }, () => {
  rolesTests('mysql');
  procedureDefinerTests();
});
