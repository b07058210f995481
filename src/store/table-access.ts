import type { Knex } from 'knex';
import type { BoundableQuery } from './bound-query.js';
import type { TableNames } from './tables.js';

/**
 * What a table's statements need from the store that owns them: the connection, the table names,
 * the cluster every row carries, the query bound and the database clock. The cursor and failure
 * tables (cursor-table.ts, failure-table.ts) are written once against it, for every dialect.
 */
export interface TableAccess {
  readonly knex: Knex;
  readonly tables: TableNames;
  readonly cluster: string;
  /** Bounds a query by the store's queryTimeout (store.bounded). */
  bounded<T extends BoundableQuery>(query: T): Promise<Awaited<T>>;
  /** "now" by the database clock, in the form of the dialect's timestamp columns. */
  nowSql(): Knex.Raw | ReturnType<Knex['fn']['now']>;
  /** "the database clock minus `ms`", comparable with the timestamp columns. */
  cutoffSql(ms: number): Knex.Raw;
}
