import knexFactory, { type Knex } from 'knex';
// In your application: import { tableNames } from 'distcache'.
import { tableNames } from '../../src/index.js';

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

/** Drops what an earlier run of the example left: distcache's tables under `prefix`, then `extra`. */
export async function dropExampleTables(knex: Knex, prefix: string, extra: string[]): Promise<void> {
  const t = tableNames(prefix);
  for (const table of [...extra, t.failure, t.cursor, t.server, t.lease, t.instruction, t.sequence, t.migrations, `${t.migrations}_lock`]) {
    await knex.raw('drop table if exists ?? cascade', [table]);
  }
}
