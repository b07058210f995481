import type { Knex } from 'knex';
import type { MigrationContext } from '../src/migrations/context.js';

/**
 * Each cursor records which database, and which history of it, its position was read from (on
 * PostgreSQL the system identifier and the timeline), so a server whose cursor was read from
 * another database (a dump restored elsewhere, a promoted standby, a PITR) cold-boots instead of
 * adopting a position that means something else there. Never edit once landed: the SQL that fills
 * existing cursors is written out here, not taken from the live dialect code.
 */
export async function up(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  await knex.schema.alterTable(tables.cursor, (table) => {
    table.string('database_identity', 160).nullable();
  });
  if (dialect.name === 'postgres') {
    // The cursors that exist now were read from the database this migration runs on.
    await knex.raw(
      `update ?? set database_identity = (select system_identifier::text from pg_control_system()) || ':' ||
         case when pg_is_in_recovery() then (select timeline_id from pg_control_checkpoint())::text
           else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int::text end`,
      [tables.cursor],
    );
  }
}

export async function down(knex: Knex, { tables }: MigrationContext): Promise<void> {
  await knex.schema.alterTable(tables.cursor, (table) => {
    table.dropColumn('database_identity');
  });
}
