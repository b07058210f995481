import type { Knex } from 'knex';
import type { ClusterSql } from '../cluster/sql.js';
import { fromDatabaseError } from '../errors.js';
import type { InstructionStore } from '../store/store.js';
import type { TableNames } from '../store/tables.js';

/** What every operator function works with: one cluster of one set of tables. */
export interface AdminContext {
  readonly knex: Knex;
  readonly tables: TableNames;
  readonly cluster: string;
  readonly store: InstructionStore;
  /** The same scope, in the form the cluster code's tables take. */
  readonly sql: ClusterSql;
}

/** Runs a database operation, turning a missing table or a timeout into the library's typed errors. */
export async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw fromDatabaseError(err);
  }
}

/** Seconds between two instants, rounded to milliseconds; null when either is unknown. */
export function secondsBetween(from: Date | null | undefined, to: Date): number | null {
  if (!from) return null;
  return Math.max(0, Math.round(to.getTime() - from.getTime())) / 1000;
}

export function iso(date: Date | null | undefined): string | null {
  return date ? date.toISOString() : null;
}
