import type { Knex } from 'knex';
import type { MigrationContext } from '../src/migrations/context.js';

/** The instruction log, the per-server cursors and the recorded failures. Never edit once landed. */
export async function up(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  await knex.schema.createTable(tables.instruction, (table) => {
    table.bigIncrements('id').primary();
    dialect.timestamp(table, 'utc_stamp').notNullable().defaultTo(dialect.nowDefault(knex));
    // longtext on MySQL: a row may carry payloads of several megabytes.
    table.text('json_instruction', 'longtext').notNullable();
    table.string('originated', 255).notNullable();
    table.string('origin_instance', 64).nullable();
    table.integer('instruction_count').notNullable().defaultTo(1);
    table.string('cluster', 64).notNullable().defaultTo('default');
    table.index(['cluster', 'id'], `${tables.instruction}_cluster_id`);
    table.index(['utc_stamp'], `${tables.instruction}_stamp`);
  });
  await dialect.createCursorSupport(knex, tables);

  await knex.schema.createTable(tables.cursor, (table) => {
    table.string('cluster', 64).notNullable();
    table.string('server_identity', 128).notNullable();
    table.text('position').notNullable();
    table.boolean('cold_boot_requested').notNullable().defaultTo(false);
    dialect.timestamp(table, 'last_synced').nullable();
    table.primary(['cluster', 'server_identity']);
  });

  await knex.schema.createTable(tables.failure, (table) => {
    table.bigIncrements('id').primary();
    table.string('cluster', 64).notNullable();
    table.string('server_identity', 128).notNullable();
    table.bigInteger('instruction_id').nullable();
    table.string('refresher', 256).nullable();
    table.string('kind', 32).nullable();
    table.string('action', 32).notNullable();
    table.text('error').notNullable();
    table.text('detail').nullable();
    dialect.timestamp(table, 'created_at').notNullable().defaultTo(dialect.nowDefault(knex));
    table.index(['cluster', 'server_identity'], `${tables.failure}_server`);
  });
}

export async function down(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  await knex.schema.dropTableIfExists(tables.failure);
  await knex.schema.dropTableIfExists(tables.cursor);
  await dialect.dropCursorSupport(knex, tables);
  await knex.schema.dropTableIfExists(tables.instruction);
}
