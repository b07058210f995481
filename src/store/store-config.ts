import type { Knex } from 'knex';
import type { Logger } from '../logger.js';
import type { TableNames } from './tables.js';

/** What every dialect's store is built from (Dialect.createStore). */
export interface StoreConfig {
  knex: Knex;
  tables: TableNames;
  cluster: string;
  /** Every query is bounded by this many milliseconds. */
  queryTimeout: number;
  /** PostgreSQL: the poll as a named prepared statement (see postgres/prepared.ts). @default true */
  preparedStatements?: boolean;
  /** Told once, at warn level, when prepared statements are given up. */
  logger?: Logger;
  /** A row whose JSON is larger is read without its body (see store/row-bytes.ts). @default MAX_ROW_BYTES (16 MiB) */
  maxRowBytes?: number;
  /** A page's bodies stop before this many bytes (its first row always comes). @default MAX_PAGE_BYTES (2 × MAX_ROW_BYTES) */
  maxPageBytes?: number;
}
