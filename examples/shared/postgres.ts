import knexFactory, { type Knex } from 'knex';
import { tableNames } from 'distcache';

/** The connection string every PostgreSQL example uses. */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A table prefix, so an example never touches another application's tables (and runs in parallel with itself). */
export function examplePrefix(fallback: string): string {
  const prefix = process.env.TABLE_PREFIX ?? fallback;
  if (!/^[a-z][a-z0-9_]{0,31}$/.test(prefix))
    throw new Error(`TABLE_PREFIX ${JSON.stringify(prefix)}: use lower-case letters, digits and underscores`);
  return prefix;
}

export function pgKnex(): Knex {
  return knexFactory({ client: 'pg', connection: DATABASE_URL, pool: { min: 0, max: 5 } });
}

/**
 * Drops what an earlier run of the example left: `extra`, then every table of distcache's migrations
 * under `prefix`, then migration 005's SQL functions (functions are not tables: they outlive them).
 */
export async function dropExampleTables(knex: Knex, prefix: string, extra: string[]): Promise<void> {
  const { prefix: _, ...tables } = tableNames(prefix);
  for (const table of [...extra, ...Object.values(tables), `${tables.migrations}_lock`]) {
    await knex.raw('drop table if exists ?? cascade', [table]);
  }
  for (const name of ['write', 'refresh', 'remove', 'refresh_all', 'payload', 'wake']) {
    await knex.raw('drop function if exists ?? cascade', [`${prefix}distcache_${name}`]);
  }
}
