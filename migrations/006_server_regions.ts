import type { Knex } from 'knex';
import type { MigrationContext } from '../src/migrations/context.js';

/**
 * Each server publishes its cache regions and their figures (a JSON array, see
 * src/cluster/published-regions.ts) in its registration row with every heartbeat, so
 * `distcache status` lists the regions of every server. Nullable: servers without regions, of an
 * older version, and rows written before this migration publish nothing. Never edit once landed.
 */
export async function up(knex: Knex, { tables }: MigrationContext): Promise<void> {
  await knex.schema.alterTable(tables.server, (table) => {
    table.text('regions').nullable();
  });
}

export async function down(knex: Knex, { tables }: MigrationContext): Promise<void> {
  await knex.schema.alterTable(tables.server, (table) => {
    table.dropColumn('regions');
  });
}
