import type { Knex } from 'knex';
import type { Dialect } from '../dialects/dialect.js';
import type { TableNames } from '../store/tables.js';
import { MIGRATIONS } from './list.js';

/**
 * A knex migration source for distcache's own migrations, bound to one table prefix. Use it in a
 * knexfile (`migrations: { migrationSource, tableName: tables.migrations }`) or through `migrate()`.
 */
export class DistcacheMigrationSource implements Knex.MigrationSource<string> {
  constructor(
    private readonly tables: TableNames,
    private readonly dialect: Dialect,
  ) {}

  async getMigrations(): Promise<string[]> {
    return MIGRATIONS.map((m) => m.name);
  }

  getMigrationName(migration: string): string {
    return migration;
  }

  async getMigration(name: string): Promise<Knex.Migration> {
    const migration = MIGRATIONS.find((m) => m.name === name);
    if (!migration) throw new Error(`unknown distcache migration ${name}`);
    const context = { tables: this.tables, dialect: this.dialect };
    return { up: (knex) => migration.up(knex, context), down: (knex) => migration.down(knex, context) };
  }
}
