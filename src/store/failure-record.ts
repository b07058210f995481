// A failure record: a row of `cache_failure` (failure-table.ts), as the store writes and reads it.

/**
 * What was done about an instruction that could not be applied as written:
 * - fell-back-to-refresh-all: the method failed after retries; refreshAll() succeeded instead;
 * - gave-up: refreshAll() failed too; the cache may be stale until the next refresh or cold boot;
 * - skipped-malformed-row: the row could not be decoded; the refreshers it names (or all) got a refreshAll() instead;
 * - skipped-malformed-instruction: one instruction of a readable row could not be decoded; its refresher (or,
 *   when even that cannot be read, every refresher) got a refreshAll() instead, and the rest of the row was applied;
 * - skipped-unknown-refresher: no refresher with that id is registered on this server;
 * - rejected-payload: a payload failed the refresher's validation;
 * - cold-boot-database-changed: the cursor did not belong to the database read (a restore, a
 *   failover, a PITR); the server cold-booted. `detail` says what was found.
 */
export type FailureAction =
  | 'cold-boot-database-changed'
  | 'fell-back-to-refresh-all'
  | 'gave-up'
  | 'skipped-malformed-row'
  | 'skipped-malformed-instruction'
  | 'skipped-unknown-refresher'
  | 'rejected-payload';

export interface NewFailure {
  identity: string;
  instructionId: number | null;
  refresher: string | null;
  kind: string | null;
  action: FailureAction;
  error: string;
  /** A bounded summary of what could not be applied. */
  detail: string | null;
}

export interface StoredFailure extends NewFailure {
  id: number;
  createdAt: Date;
}
