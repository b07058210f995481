import type { Knex } from 'knex';
import type { MigrationContext } from '../src/migrations/context.js';

/**
 * The cluster tables: one row per server (registration and heartbeat) and the scheduling-publisher
 * lease. Every time in them is written by the database clock (`clockSql`), never by a machine's
 * own clock. Never edit once landed.
 */
export async function up(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
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
    dialect.timestamp(table, 'registered_at').notNullable().defaultTo(dialect.nowDefault(knex));
    dialect.timestamp(table, 'last_heartbeat').notNullable().defaultTo(dialect.nowDefault(knex));
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
    dialect.timestamp(table, 'acquired_at').nullable();
    dialect.timestamp(table, 'renewed_at').nullable();
    table.primary(['cluster', 'name']);
  });
}

export async function down(knex: Knex, { tables }: MigrationContext): Promise<void> {
  await knex.schema.dropTableIfExists(tables.lease);
  await knex.schema.dropTableIfExists(tables.server);
}
