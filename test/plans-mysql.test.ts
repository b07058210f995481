import { checkLeaksAfterEach } from './support/leaks.js';
import { availability } from './support/databases.js';
import { planGate } from './plans/suite.js';

checkLeaksAfterEach();

planGate('mysql', await availability('mysql'));
