import type { Knex } from 'knex';
import { errors } from '../errors.js';
import type { Dialect } from './types.js';
import { sqliteDialect } from './sqlite/dialect.js';
import { postgresDialect } from './postgres/dialect.js';
import { mysqlDialect } from './mysql/dialect.js';

export type { Dialect, ReplicaSettings } from './types.js';

const DIALECTS: readonly Dialect[] = [sqliteDialect, postgresDialect, mysqlDialect];

export function clientName(knex: Knex): string {
  const client = (knex.client as { config?: { client?: unknown }; dialect?: string }).config?.client;
  if (typeof client === 'string') return client;
  if (typeof client === 'function') return (knex.client as { dialect?: string }).dialect ?? 'unknown';
  return (knex.client as { dialect?: string }).dialect ?? 'unknown';
}

/** The dialect serving a knex client name ('pg', 'mysql2', ...), or undefined. The one list of client names. */
export function dialectOfClient(client: string): Dialect | undefined {
  return DIALECTS.find((d) => d.clients.includes(client));
}

export function dialectFor(knex: Knex): Dialect {
  const client = clientName(knex);
  const dialect = dialectOfClient(client);
  if (!dialect) {
    throw new errors.UnsupportedDialectError(
      `knex client '${client}' is not supported; use 'pg' (PostgreSQL 13+), 'better-sqlite3' (SQLite), or 'mysql2' (MySQL 8 / ` +
        `MariaDB 10.11)`,
    );
  }
  return dialect;
}
