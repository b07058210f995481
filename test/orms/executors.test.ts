import { describe } from 'node:test';
import { availability, selectedDialects } from '../../dist/test/support/databases.js';
import { clientTests } from '../../dist/test/executors/suite.js';
import { CLIENTS } from './clients.js';

/** The ORMs' and query builders' executors through test/executors/suite.ts, on every database each supports here. */
for (const dialect of selectedDialects()) {
  describe(`ORM executors on ${dialect}`, { skip: await availability(dialect) }, () => {
    clientTests(CLIENTS.filter((c) => c.dialect === dialect));
  });
}
