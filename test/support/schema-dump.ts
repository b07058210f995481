import type { Knex } from 'knex';
import { dropPrefixed, type DialectName } from './databases.js';

/** One line per schema object of `prefix`'s tables, with the prefix replaced by `<p>`, sorted. */
export async function dumpSchema(knex: Knex, dialect: DialectName, prefix: string): Promise<string[]> {
  const lines =
    dialect === 'postgres'
      ? await dumpPostgres(knex, prefix)
      : dialect === 'mysql'
        ? await dumpMysql(knex, prefix)
        : await dumpSqlite(knex, prefix);
  return lines.map((line) => line.split(prefix).join('<p>')).sort();
}

async function dumpPostgres(knex: Knex, prefix: string): Promise<string[]> {
  const mine = (name: string) => name.startsWith(prefix);
  // Every query filters on the prefix in SQL, before any ::regclass cast: other tests drop their
  // tables meanwhile, and a cast of a relation dropped under the scan fails with "could not open relation".
  const tables = (
    await knex.raw(`select tablename from pg_tables where schemaname = current_schema() and starts_with(tablename, ?)`, [prefix])
  ).rows as Array<{
    tablename: string;
  }>;
  const columns = (
    await knex.raw(
      `select table_name, column_name, ordinal_position, data_type, udt_name, is_nullable, column_default,
              character_maximum_length, numeric_precision, datetime_precision, is_identity
         from information_schema.columns where table_schema = current_schema() and starts_with(table_name, ?)`,
      [prefix],
    )
  ).rows as Array<Record<string, unknown> & { table_name: string }>;
  const indexes = (
    await knex.raw(
      `select tablename, indexname, indexdef from pg_indexes where schemaname = current_schema() and starts_with(tablename, ?)`,
      [prefix],
    )
  ).rows as Array<{ tablename: string; indexname: string; indexdef: string }>;
  const constraints = (
    await knex.raw(
      `select c.conrelid::regclass::text as table_name, c.conname, pg_get_constraintdef(c.oid) as def
         from pg_constraint c join pg_namespace n on n.oid = c.connamespace join pg_class r on r.oid = c.conrelid
        where n.nspname = current_schema() and starts_with(r.relname, ?)`,
      [prefix],
    )
  ).rows as Array<{ table_name: string; conname: string; def: string }>;
  const triggers = (
    await knex.raw(
      `select t.tgrelid::regclass::text as table_name, t.tgname, pg_get_triggerdef(t.oid) as def
         from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = current_schema() and not t.tgisinternal and starts_with(c.relname, ?)`,
      [prefix],
    )
  ).rows as Array<{ table_name: string; tgname: string; def: string }>;
  return [
    ...tables.filter((r) => mine(r.tablename)).map((r) => `table ${r.tablename}`),
    ...columns.filter((r) => mine(r.table_name)).map((r) => `column ${JSON.stringify(r)}`),
    ...indexes.filter((r) => mine(r.tablename)).map((r) => `index ${r.indexname}: ${r.indexdef}`),
    ...constraints.filter((r) => mine(r.table_name)).map((r) => `constraint ${r.table_name}.${r.conname}: ${r.def}`),
    ...triggers.filter((r) => mine(r.table_name)).map((r) => `trigger ${r.tgname}: ${r.def}`),
  ];
}

async function dumpMysql(knex: Knex, prefix: string): Promise<string[]> {
  const mine = (name: string) => name.startsWith(prefix);
  const read = async (sql: string) => ((await knex.raw(sql)) as unknown as [Array<Record<string, unknown>>])[0];
  // Aliased in lower case: MySQL 8 labels information_schema columns in upper case, MariaDB as written.
  const tables = await read(`select table_name as t, engine as engine from information_schema.tables where table_schema = database()`);
  const columns = await read(
    `select table_name as t, column_name as c, ordinal_position as pos, column_type as type, is_nullable as nullable,
            column_default as dflt, extra as extra
       from information_schema.columns where table_schema = database()`,
  );
  const indexes = await read(
    `select table_name as t, index_name as name, non_unique as non_unique, seq_in_index as seq, column_name as c
       from information_schema.statistics where table_schema = database()`,
  );
  const triggers = await read(
    `select event_object_table as t, trigger_name as name, action_timing as timing, event_manipulation as event, action_statement as body
       from information_schema.triggers where trigger_schema = database()`,
  );
  const line = (kind: string) => (r: Record<string, unknown>) => `${kind} ${String(r.t)} ${JSON.stringify(r)}`;
  return [
    ...tables.filter((r) => mine(String(r.t))).map((r) => `table ${String(r.t)} engine=${String(r.engine)}`),
    ...columns.filter((r) => mine(String(r.t))).map(line('column')),
    ...indexes.filter((r) => mine(String(r.t))).map(line('index')),
    ...triggers.filter((r) => mine(String(r.t))).map(line('trigger')),
  ];
}

async function dumpSqlite(knex: Knex, prefix: string): Promise<string[]> {
  // sqlite_master keeps each object's CREATE statement as SQLite rewrote it after every ALTER.
  const objects = (await knex.raw(`select type, name, tbl_name, sql from sqlite_master`)) as Array<{
    type: string;
    name: string;
    tbl_name: string;
    sql: string | null;
  }>;
  const mine = objects.filter((o) => o.tbl_name.startsWith(prefix));
  const lines = mine.map((o) => `${o.type === 'table' ? 'table' : o.type} ${o.name}: ${o.sql ?? '(implicit)'}`);
  for (const table of mine.filter((o) => o.type === 'table')) {
    const columns = (await knex.raw(`pragma table_xinfo(${JSON.stringify(table.name)})`)) as Array<Record<string, unknown>>;
    lines.push(...columns.map((c) => `column ${table.name} ${JSON.stringify(c)}`));
  }
  return lines;
}

/** Drops every table of `prefix`, whichever migrations made them (triggers and indexes go with them). */
export async function dropAll(knex: Knex, dialect: DialectName, prefix: string): Promise<void> {
  const lines = await dumpSchema(knex, dialect, prefix);
  const tables = lines.filter((l) => l.startsWith('table ')).map((l) => prefix + l.slice('table <p>'.length).split(/[ :]/)[0]);
  // Children first is not needed: distcache's tables have no foreign keys.
  for (const table of tables) await knex.schema.dropTableIfExists(table);
  // The SQL functions and procedures of migration 005 (and 007's re-creation) are not tables: they outlive them.
  await dropPrefixed(knex, prefix);
}
