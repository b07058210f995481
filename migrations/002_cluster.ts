import type { Knex } from 'knex';
import type { MigrationContext } from '../src/migrations/context.js';

/**
 * The cluster tables: one row per server (registration and heartbeat) and the scheduling-publisher
 * lease. Every time in them is written by the database clock (`clockSql`), never by a machine's
 * own clock. Never edit once landed.
 *
 * Frozen: the timestamp columns are written out here rather than asked of src/dialects/, so a
 * later change to a dialect cannot change what this migration creates.
 */
export async function up(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  const name = dialect.name;
  await knex.schema.createTable(tables.server, (table) => {
    table.string('cluster', 64).notNullable();
    table.string('server_identity', 128).notNullable();
    // The DistributedCache instance now heartbeating under this identity: another one taking the
    // row over is how two processes sharing an identity are detected.
    table.string('instance_id', 64).notNullable();
    table.string('host', 255).notNullable();
    table.integer('pid').notNullable();
    table.string('package_version', 64).notNullable();
    table.string('role', 32).notNullable().defaultTo('unknown');
    table.boolean('active').notNullable().defaultTo(true);
    timestamp(name, table, 'registered_at').notNullable().defaultTo(now(name, knex));
    timestamp(name, table, 'last_heartbeat').notNullable().defaultTo(now(name, knex));
    table.text('last_error').nullable();
    table.primary(['cluster', 'server_identity']);
    // Marking stale servers, counting active ones, and choosing the cursors pruning must respect.
    table.index(['cluster', 'active', 'last_heartbeat'], `${tables.server}_liveness`);
  });

  await knex.schema.createTable(tables.lease, (table) => {
    table.string('cluster', 64).notNullable();
    table.string('name', 64).notNullable();
    table.string('holder_identity', 128).nullable();
    table.string('holder_instance', 64).nullable();
    // Grows with every change of holder: the compare-and-set value, and a fencing token.
    table.bigInteger('token').notNullable().defaultTo(0);
    // The holder's own lease duration; the lease expires at renewed_at + duration_ms.
    table.integer('duration_ms').notNullable().defaultTo(0);
    timestamp(name, table, 'acquired_at').nullable();
    timestamp(name, table, 'renewed_at').nullable();
    table.primary(['cluster', 'name']);
  });
}

export async function down(knex: Knex, { tables }: MigrationContext): Promise<void> {
  await knex.schema.dropTableIfExists(tables.lease);
  await knex.schema.dropTableIfExists(tables.server);
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
