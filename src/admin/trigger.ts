import { createHash } from 'node:crypto';
import { AdminError } from './errors.js';
import { REFRESHER_ID_PATTERN } from '../identifiers.js';
import type { TableNames } from '../store/tables.js';

/** What `distcache trigger` makes: a trigger on `table` that writes an instruction when its rows change. */
export interface TriggerRequest {
  /** The application table whose changes refresh the cache. */
  table: string;
  /** The refresher every server calls with the changed keys. */
  refresher: string;
  /** The column whose values are the refresher's ids (usually the primary key). */
  keyColumn: string;
  /**
   * PostgreSQL: a statement that changes more rows writes one refresh-all instead of their ids.
   * MySQL and SQLite run row triggers, one instruction row per changed row, and ignore it. @default 1000
   */
  rowLimit?: number;
  /** PostgreSQL: the schema of distcache's functions (migration 005's, re-created by 007). @default 'public' */
  schema?: string;
}

/** The SQL that installs (`up`) and removes (`down`) one generated trigger, in order. */
export interface TriggerPlan {
  dialect: 'postgres' | 'mysql' | 'sqlite';
  up: string[];
  down: string[];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** 2^53 − 1: the largest id every JavaScript reader reads back as written (the SQL entry points refuse more). */
const MAX_SAFE = '9007199254740991';

const lit = (text: string) => `'${text.replace(/'/g, "''")}'`;

/**
 * Builds the trigger for one table. The SQL calls migration 005's entry point, so the rows it
 * writes are checked and shaped exactly as the writer's, and commit or roll back with the change.
 */
export function triggerPlan(dialect: TriggerPlan['dialect'], tables: TableNames, cluster: string, request: TriggerRequest): TriggerPlan {
  const { table, refresher, keyColumn } = request;
  const rowLimit = request.rowLimit ?? 1000;
  for (const [what, name] of [
    ['table', table],
    ['key column', keyColumn],
  ] as const) {
    if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
      const shown = JSON.stringify(name);
      throw new AdminError('E_INVALID_ARGUMENT', `${what} ${shown} is not a plain identifier (letters, digits, _; at most 63)`);
    }
  }
  if (typeof refresher !== 'string' || !REFRESHER_ID_PATTERN.test(refresher)) {
    throw new AdminError('E_INVALID_ARGUMENT', `refresher ${JSON.stringify(refresher)} is not a valid refresher id`);
  }
  if (!Number.isSafeInteger(rowLimit) || rowLimit < 1) {
    throw new AdminError('E_INVALID_ARGUMENT', `row limit ${rowLimit} must be a whole number of at least 1`);
  }
  // Trigger names hold at most 64 characters on MySQL, 63 on PostgreSQL. A cut name ends in a hash of
  // the whole one, so two long table names sharing their first characters never share a function.
  const full = `${tables.prefix}distcache_${table}`;
  // 55: '_changed' after it makes 63.
  const base = full.length <= 55 ? full : `${full.slice(0, 46)}_${createHash('sha256').update(full).digest('hex').slice(0, 8)}`;
  const write = `${tables.prefix}distcache_write`;
  const schema = request.schema ?? 'public';
  if (!IDENTIFIER.test(schema)) throw new AdminError('E_INVALID_ARGUMENT', `schema ${JSON.stringify(schema)} is not a plain identifier`);
  const qualifiedWrite = `"${schema}"."${write}"`;
  const args = { table, key: keyColumn, refresher: lit(refresher), cluster: lit(cluster), write, qualifiedWrite, base, rowLimit };
  return dialect === 'postgres' ? postgres(args) : dialect === 'mysql' ? mysql(args) : sqlite(args);
}

interface Args {
  table: string;
  key: string;
  refresher: string;
  cluster: string;
  write: string;
  /** PostgreSQL: the write function with its schema, as the pinned search_path needs. */
  qualifiedWrite: string;
  base: string;
  rowLimit: number;
}

/** Statement triggers with transition tables: one instruction row per statement, whatever it touched. */
function postgres(a: Args): TriggerPlan {
  const fn = `"${a.base}_changed"`;
  // Aliases other than new/old, which PL/pgSQL reserves for row triggers' records.
  const keys = (side: string) =>
    `select pg_catalog.to_jsonb(t_${side}."${a.key}") as k from distcache_${side} t_${side} where t_${side}."${a.key}" is not null`;
  const on = (event: string, tables: string) =>
    `create trigger "${a.base}_${event.slice(0, 3)}" after ${event} on "${a.table}" referencing ${tables}
       for each statement execute function ${fn}()`;
  return {
    dialect: 'postgres',
    up: [
      // search_path pinned and built-ins qualified: the function runs for whoever writes the table.
      // Keys no reader could carry (a JSON or composite key, a text over 1,024 characters, a number
      // past 2^53) become one refresh-all instead of failing the application's own write.
      `create function ${fn}() returns trigger language plpgsql set search_path = pg_catalog, pg_temp as $body$
       declare
         v_rows bigint;
         v_ids jsonb;
       begin
         if TG_OP = 'INSERT' then
           select pg_catalog.count(*), pg_catalog.jsonb_agg(distinct u.k) into v_rows, v_ids from (${keys('new')}) u;
         elsif TG_OP = 'DELETE' then
           select pg_catalog.count(*), pg_catalog.jsonb_agg(distinct u.k) into v_rows, v_ids from (${keys('old')}) u;
         else
           select pg_catalog.count(*) into v_rows from distcache_new;
           -- A changed key refreshes both its old and its new value.
           select pg_catalog.jsonb_agg(distinct u.k) into v_ids from (${keys('new')} union all ${keys('old')}) u;
         end if;
         if v_ids is null then return null; end if;
         if v_rows > ${a.rowLimit} or exists (
           select 1 from pg_catalog.jsonb_array_elements(v_ids) e
           where pg_catalog.jsonb_typeof(e) not in ('number', 'string')
             or (pg_catalog.jsonb_typeof(e) = 'string' and pg_catalog.length(e operator(pg_catalog.#>>) '{}') > 1024)
             or (pg_catalog.jsonb_typeof(e) = 'number'
               and pg_catalog.abs((e operator(pg_catalog.#>>) '{}')::pg_catalog.numeric) > ${MAX_SAFE})
         ) then
           perform ${a.qualifiedWrite}('refresh-all', ${a.refresher}, null, ${a.cluster});
         else
           perform ${a.qualifiedWrite}(case when TG_OP = 'DELETE' then 'remove' else 'refresh' end, ${a.refresher}, v_ids, ${a.cluster});
         end if;
         return null;
       end
       $body$`,
      on('insert', 'new table as distcache_new'),
      on('update', 'old table as distcache_old new table as distcache_new'),
      on('delete', 'old table as distcache_old'),
    ],
    down: [
      `drop trigger if exists "${a.base}_ins" on "${a.table}"`,
      `drop trigger if exists "${a.base}_upd" on "${a.table}"`,
      `drop trigger if exists "${a.base}_del" on "${a.table}"`,
      `drop function if exists ${fn}()`,
    ],
  };
}

/**
 * Row triggers (MySQL has no statement triggers): one instruction row per changed row. A key no
 * reader could carry (a JSON object or array, a string over 1,024 characters, a number past 2^53)
 * becomes one refresh-all, as on PostgreSQL, instead of the procedure refusing the application's write.
 */
function mysql(a: Args): TriggerPlan {
  const k = `\`${a.key}\``;
  const call = (kind: string, ids: string) => `CALL \`${a.write}\`('${kind}', ${a.refresher}, ${ids}, ${a.cluster})`;
  // The key as the JSON the procedure will see; CASE evaluates CAST only for a number (a string would warn, an error in strict mode).
  const carried = (x: string) => {
    const j = `JSON_EXTRACT(JSON_ARRAY(${x}), '$[0]')`;
    return `(CASE WHEN ${j} LIKE '"%' THEN CHAR_LENGTH(${x}) <= 1024
      WHEN ${j} REGEXP BINARY '^-?[0-9]' THEN ABS(CAST(${j} AS DOUBLE)) <= ${MAX_SAFE} ELSE FALSE END)`;
  };
  const send = (kind: string, keys: string[]) =>
    `IF ${keys.map(carried).join(' AND ')} THEN ${call(kind, `JSON_ARRAY(${keys.join(', ')})`)};
       ELSE ${call('refresh-all', 'NULL')}; END IF;`;
  return {
    dialect: 'mysql',
    up: [
      `CREATE TRIGGER \`${a.base}_ins\` AFTER INSERT ON \`${a.table}\` FOR EACH ROW
         BEGIN IF NEW.${k} IS NOT NULL THEN ${send('refresh', [`NEW.${k}`])} END IF; END`,
      `CREATE TRIGGER \`${a.base}_upd\` AFTER UPDATE ON \`${a.table}\` FOR EACH ROW BEGIN
         IF OLD.${k} <=> NEW.${k} OR OLD.${k} IS NULL THEN IF NEW.${k} IS NOT NULL THEN ${send('refresh', [`NEW.${k}`])} END IF;
         ELSEIF NEW.${k} IS NULL THEN ${send('refresh', [`OLD.${k}`])}
         ELSE ${send('refresh', [`OLD.${k}`, `NEW.${k}`])} END IF; END`,
      `CREATE TRIGGER \`${a.base}_del\` AFTER DELETE ON \`${a.table}\` FOR EACH ROW
         BEGIN IF OLD.${k} IS NOT NULL THEN ${send('remove', [`OLD.${k}`])} END IF; END`,
    ],
    down: ['ins', 'upd', 'del'].map((event) => `DROP TRIGGER IF EXISTS \`${a.base}_${event}\``),
  };
}

/**
 * Row triggers that insert into migration 005's view. A key the view would refuse (a blob, a text
 * over 1,024 characters, an integer past 2^53) writes one refresh-all instead, never failing the app's write.
 */
function sqlite(a: Args): TriggerPlan {
  const k = `"${a.key}"`;
  const carried = (x: string) =>
    `(${x} is null or (typeof(${x}) in ('integer', 'real') and ${x} between -${MAX_SAFE} and ${MAX_SAFE})
      or (typeof(${x}) = 'text' and length(${x}) <= 1024))`;
  // Two inserts, each under its condition: a trigger body has no IF. A select with no row evaluates
  // nothing (json_array of a blob would fail).
  const send = (kind: string, keys: string[], ids: string) => {
    const ok = `(${keys.map(carried).join(' and ')})`;
    return (
      `insert into "${a.write}" (kind, refresher, args, cluster) select '${kind}', ${a.refresher}, ${ids}, ${a.cluster} where ${ok};\n` +
      `insert into "${a.write}" (kind, refresher, args, cluster) select 'refresh-all', ${a.refresher}, null, ${a.cluster} where not ${ok};`
    );
  };
  return {
    dialect: 'sqlite',
    up: [
      `create trigger "${a.base}_ins" after insert on "${a.table}" when new.${k} is not null
         begin ${send('refresh', [`new.${k}`], `json_array(new.${k})`)} end`,
      `create trigger "${a.base}_upd" after update on "${a.table}" when coalesce(new.${k}, old.${k}) is not null begin
         ${send(
           'refresh',
           [`old.${k}`, `new.${k}`],
           `(select json_group_array(k) from (select old.${k} as k where old.${k} is not null
           union select new.${k} where new.${k} is not null))`,
         )} end`,
      `create trigger "${a.base}_del" after delete on "${a.table}" when old.${k} is not null
         begin ${send('remove', [`old.${k}`], `json_array(old.${k})`)} end`,
    ],
    down: [`drop trigger if exists "${a.base}_ins"`, `drop trigger if exists "${a.base}_upd"`, `drop trigger if exists "${a.base}_del"`],
  };
}

/** A knex migration file that installs the trigger: ESM for .ts/.mjs, CommonJS for .js/.cjs. */
export function triggerMigrationFile(plan: TriggerPlan, fileName: string): string {
  const esm = /\.(ts|mjs|mts)$/.test(fileName);
  const list = (statements: string[]) => `[\n${statements.map((s) => `    ${JSON.stringify(s)},`).join('\n')}\n  ]`;
  const body = (statements: string[]) => `  for (const statement of ${list(statements)}) await knex.raw(statement);`;
  const header = `// Generated by \`distcache trigger\` (${plan.dialect}). Needs distcache's migration 005 (its SQL functions) first.\n`;
  const type = fileName.endsWith('.ts') ? ': import("knex").Knex' : '';
  if (esm) {
    return (
      `${header}export async function up(knex${type}) {\n${body(plan.up)}\n}\n\n` +
      `export async function down(knex${type}) {\n${body(plan.down)}\n}\n`
    );
  }
  return (
    `${header}exports.up = async function up(knex) {\n${body(plan.up)}\n};\n\n` +
    `exports.down = async function down(knex) {\n${body(plan.down)}\n};\n`
  );
}
