import type { DialectName } from '../support/databases.js';
import { coreTests } from './core.js';
import { syncTests } from './sync.js';

/** The whole conformance suite: the same assertions on every dialect. */
export function conformance(dialect: DialectName): void {
  coreTests(dialect);
  syncTests(dialect);
}
