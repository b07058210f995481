import knexFactory from 'knex';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availability, MYSQL_URL, PG_URL, type DialectName } from './databases.js';

/**
 * What the suite leaves in the databases it was given (issue 24): every table, view and function
 * (PostgreSQL), or table and routine (MySQL), outside the system schemas. The first test file of
 * the suite records it, the last compares: a run must leave nothing behind.
 */
export async function databaseContents(): Promise<Record<string, string[]>> {
  const contents: Record<string, string[]> = {};
  for (const dialect of ['postgres', 'mysql'] as DialectName[]) {
    if (await availability(dialect).catch(() => 'unreachable')) continue;
    const url = dialect === 'postgres' ? PG_URL : MYSQL_URL;
    const knex = knexFactory({ client: dialect === 'postgres' ? 'pg' : 'mysql2', connection: url, pool: { min: 0, max: 1 } });
    try {
      if (dialect === 'postgres') {
        const rows = await knex.raw(
          `select c.relname as name from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
           where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%' and c.relkind in ('r', 'v', 'S')
           union all
           select p.proname from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
           where n.nspname not in ('pg_catalog', 'information_schema')`,
        );
        contents[dialect] = (rows.rows as Array<{ name: string }>).map((r) => r.name).sort();
      } else {
        const [rows] = await knex.raw(
          `select table_name as name from information_schema.tables where table_schema = database()
           union all select routine_name from information_schema.routines where routine_schema = database()`,
        );
        contents[dialect] = (rows as Array<{ name: string }>).map((r) => r.name).sort();
      }
    } finally {
      await knex.destroy();
    }
  }
  return contents;
}

/** Where the first file of a run leaves its record for the last one, per pair of database URLs. */
export function snapshotFile(): string {
  const key = createHash('sha256').update(`${PG_URL} ${MYSQL_URL}`).digest('hex').slice(0, 12);
  return join(tmpdir(), `distcache-suite-contents-${key}.json`);
}
