import type { Knex } from 'knex';
import type { MigrationContext } from '../src/migrations/context.js';

/**
 * PostgreSQL only: the replicated tick, one row per cluster holding a snapshot taken on the
 * primary (PgQ's slave-consumer method). Servers with `replicas` take each window's target from the
 * tick a replica can see, never from the standby's own snapshot (see docs/design.md, "Reading from
 * replicas"). `snapshot` is written by the primary only; `source` is the primary's system
 * identifier and timeline when it wrote it, so a failover shows in the page a replica returns.
 * Never edit once landed.
 */
export async function up(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  if (dialect.name !== 'postgres') return;
  await knex.raw(
    `create table ?? (
       cluster varchar(64) primary key,
       snapshot pg_snapshot not null,
       stamp timestamptz(6) not null default now(),
       source varchar(160)
     )`,
    [tables.tick],
  );
}

export async function down(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  if (dialect.name !== 'postgres') return;
  await knex.schema.dropTableIfExists(tables.tick);
}
