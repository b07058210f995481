import type { Dialect } from '../dialects/dialect.js';
import type { TableNames } from '../store/tables.js';

/** What every migration receives besides knex: the prefixed table names and the dialect. */
export interface MigrationContext {
  readonly tables: TableNames;
  /**
   * Read `dialect.name` to choose per-database SQL, and write that SQL out in the migration:
   * never call the dialect's methods (`timestamp`, `nowDefault`), which may change later and would
   * then make a fresh install differ from an upgraded one (without a test able to see it).
   */
  readonly dialect: Dialect;
}

export interface DistcacheMigration {
  readonly name: string;
  up(knex: import('knex').Knex, context: MigrationContext): Promise<void>;
  down(knex: import('knex').Knex, context: MigrationContext): Promise<void>;
}
