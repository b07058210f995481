import type { DialectName } from '../support/databases.js';
import { checkLeaksAfterEach } from '../support/leaks.js';
import { coreTests, wakeTests } from './core.js';
import { syncTests } from './sync.js';
import { concurrencyTests } from './concurrency.js';
import { clusterTests } from './cluster.js';

/**
 * The whole conformance suite: the same assertions on every dialect. The SQL functions and the
 * generated triggers have runners of their own (conformance-sql-functions.test.ts,
 * conformance-triggers.test.ts), so nothing here runs twice.
 */
export function conformance(dialect: DialectName): void {
  checkLeaksAfterEach();
  coreTests(dialect);
  wakeTests(dialect);
  syncTests(dialect);
  concurrencyTests(dialect);
  clusterTests(dialect);
}
