import type { Knex } from 'knex';
import type { MigrationContext } from '../src/migrations/context.js';

/**
 * Each server publishes its refresher ids (a JSON array of strings) in its registration row, so
 * an operator's `distcache send` can refuse a refresher no server has. Nullable: servers of an
 * older version, and rows written before this migration, publish nothing. Never edit once landed.
 */
export async function up(knex: Knex, { tables }: MigrationContext): Promise<void> {
  await knex.schema.alterTable(tables.server, (table) => {
    table.text('refreshers').nullable();
  });
}

export async function down(knex: Knex, { tables }: MigrationContext): Promise<void> {
  await knex.schema.alterTable(tables.server, (table) => {
    table.dropColumn('refreshers');
  });
}
