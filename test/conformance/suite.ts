import type { DialectName } from '../support/databases.js';
import { checkLeaksAfterEach } from '../support/leaks.js';
import { coreTests, wakeTests } from './core.js';
import { syncTests } from './sync.js';
import { concurrencyTests } from './concurrency.js';
import { clusterTests } from './cluster.js';
import { sqlFunctionTests } from './sql-functions.js';
import { triggerTests } from './triggers.js';

/** The whole conformance suite: the same assertions on every dialect. */
export function conformance(dialect: DialectName): void {
  checkLeaksAfterEach();
  coreTests(dialect);
  wakeTests(dialect);
  syncTests(dialect);
  concurrencyTests(dialect);
  clusterTests(dialect);
  sqlFunctionTests(dialect);
  triggerTests(dialect);
}
