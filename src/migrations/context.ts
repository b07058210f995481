import type { Dialect } from '../dialects/dialect.js';
import type { TableNames } from '../store/tables.js';

/** What every migration receives besides knex: the prefixed table names and the dialect. */
export interface MigrationContext {
  readonly tables: TableNames;
  readonly dialect: Dialect;
}

export interface DistcacheMigration {
  readonly name: string;
  up(knex: import('knex').Knex, context: MigrationContext): Promise<void>;
  down(knex: import('knex').Knex, context: MigrationContext): Promise<void>;
}
