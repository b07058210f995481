import type { Knex } from 'knex';
import type { MigrationContext } from '../src/migrations/context.js';

/**
 * MySQL/MariaDB only: the replicated tick, one row per cluster, written on the primary after
 * commits and once per interval (PostgreSQL has its own, migration 009). A replica that applies the
 * primary's transactions in commit order and shows tick `n` has applied every commit before it.
 * `n` counts ticks (a server ignores a replica's copy of its own cursor flags until the replica
 * shows the tick written after its cursor reset); `stamp` is the primary's clock, so a replica's
 * lag is its clock minus the stamp; `source` is the primary's server_id. See docs/design.md,
 * "MySQL and MariaDB replicas". Never edit once landed.
 */
export async function up(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  if (dialect.name !== 'mysql') return;
  await knex.raw(
    `create table ?? (
       cluster varchar(64) not null primary key,
       n bigint not null,
       stamp timestamp(3) not null default current_timestamp(3),
       source varchar(160) null
     ) engine = InnoDB`,
    [tables.tick],
  );
}

export async function down(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  if (dialect.name !== 'mysql') return;
  await knex.schema.dropTableIfExists(tables.tick);
}
