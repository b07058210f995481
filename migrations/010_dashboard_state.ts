import type { Knex } from 'knex';
import type { MigrationContext } from '../src/migrations/context.js';

/**
 * What the dashboard (issue 26) shows of every server and every operator, not only of the process
 * serving the page:
 * - `cache_server.wake_up`: each server's wake-up state ('on', 'connecting', 'off', 'disabled'),
 *   published with every heartbeat. Nullable: servers of an older version publish nothing.
 * - `cache_action`: one row per operator action (resync, resync-all, prune) from the dashboard or
 *   the CLI, with who ran it (`originated`, the same form as the log's) and what it did, by the
 *   database clock. Kept to the newest rows per cluster by the code that writes them.
 *
 * Frozen: the timestamp column is written out here rather than asked of src/dialects/. Never edit once landed.
 */
export async function up(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  const name = dialect.name;
  await knex.schema.alterTable(tables.server, (table) => {
    table.string('wake_up', 16).nullable();
  });
  await knex.schema.createTable(tables.action, (table) => {
    table.bigIncrements('id').primary();
    table.string('cluster', 64).notNullable();
    timestamp(name, table, 'created_at').notNullable().defaultTo(now(name, knex));
    table.string('action', 32).notNullable();
    table.string('server_identity', 128).nullable();
    table.string('originated', 255).notNullable();
    table.text('result').nullable();
    table.index(['cluster', 'id'], `${tables.action}_cluster_id`);
  });
}

export async function down(knex: Knex, { tables }: MigrationContext): Promise<void> {
  await knex.schema.dropTableIfExists(tables.action);
  await knex.schema.alterTable(tables.server, (table) => {
    table.dropColumn('wake_up');
  });
}

type DialectName = MigrationContext['dialect']['name'];

/** A column holding the database clock's UTC time, as this migration made it. */
function timestamp(name: DialectName, table: Knex.CreateTableBuilder, column: string): Knex.ColumnBuilder {
  if (name === 'postgres') return table.timestamp(column, { useTz: true, precision: 6 });
  if (name === 'mysql') return table.timestamp(column, { precision: 3 });
  return table.string(column, 30);
}

/** "Now, by the database clock" as a column default, as this migration made it. */
function now(name: DialectName, knex: Knex): Knex.Raw {
  if (name === 'postgres') return knex.raw('now()');
  if (name === 'mysql') return knex.raw('CURRENT_TIMESTAMP(3)');
  return knex.raw(`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`);
}
