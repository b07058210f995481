import type { Knex } from 'knex';
import { DistcacheMigrationSource, knexConfigFromUrl } from './src/index.js';
import { dialectFor } from './src/dialects/dialect.js';
import { resolveTables } from './src/migrations/migrate.js';
import knexFactory from 'knex';
import { join } from 'node:path';

/**
 * Runs distcache's migrations with the knex CLI, for DBAs who prefer it to `migrate(knex)`:
 *   npm run build && npx knex --knexfile dist/knexfile.js migrate:latest
 * DATABASE_URL picks the database (default: ./distcache.sqlite); DISTCACHE_TABLE_PREFIX the prefix.
 * Migrations run under their own table, never the application's knex_migrations.
 */
// The knex CLI changes into the knexfile's folder first; npm's INIT_CWD is where the user stood.
const defaultFile = join(process.env.INIT_CWD ?? process.cwd(), 'distcache.sqlite');
const url = process.env.DISTCACHE_DATABASE_URL ?? process.env.DATABASE_URL ?? `sqlite://${defaultFile}`;
const base = knexConfigFromUrl(url);
const tables = resolveTables(process.env.DISTCACHE_TABLE_PREFIX ?? '');
// The dialect only depends on the client name, so a throwaway instance that never connects tells it.
const probe = knexFactory({ client: base.client, useNullAsDefault: true });
const dialect = dialectFor(probe);
void probe.destroy();

const config: Knex.Config = {
  ...base,
  migrations: {
    migrationSource: new DistcacheMigrationSource(tables, dialect),
    tableName: tables.migrations,
    disableTransactions: !dialect.transactionalDdl,
  },
};

export default config;
