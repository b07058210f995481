import type { Knex } from 'knex';
import type { MigrationContext } from '../src/migrations/context.js';

/**
 * SQLite only (issue 22): migration 005's write view checks refreshers and ids by the writer's
 * rules, as 007 made PostgreSQL's functions and MariaDB's procedures do. It took any refresher of
 * 1 to 256 characters ('product\n', a name no server registers) and numbers past ±(2^53 − 1),
 * which every JavaScript reader reads as another number. Never edit once landed.
 */
export async function up(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  if (dialect.name !== 'sqlite') return;
  for (const statement of sqlite(tables.prefix, tables.instruction)) await knex.raw(statement);
}

export async function down(): Promise<void> {
  // The stricter trigger stays: 005's down drops the view and its trigger.
}

/** 2^53 − 1: the largest integer every JavaScript reader reads back as written. */
const MAX_SAFE = '9007199254740991';

const REFRESHER_ERROR = 'distcache: refresher must be 1 to 128 letters, digits, ".", "_", ":", "/" or "-", starting with a letter or digit';
const CLUSTER_ERROR =
  'distcache: cluster must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit (or NULL for default)';
const KIND_ERROR = 'distcache: kind must be one of refresh-all, refresh, remove, payload';
const IDS_ERROR =
  'distcache: ids must be a non-empty JSON array of numbers within ±(2^53 − 1) and strings of at most 1024 characters, ' +
  `e.g. '[42, "sku-1"]'`;
const PAYLOAD_ERROR = 'distcache: payloads must be JSON (one value, or a non-empty array of values), nesting at most 2000 levels';

/** `'text'` as a SQL string literal. */
const lit = (text: string) => `'${text.replace(/'/g, "''")}'`;

function sqlite(p: string, instruction: string): string[] {
  const view = `"${p}distcache_write"`;
  const fail = (message: string, when: string) => `select raise(abort, ${lit(message)}) where ${when};`;
  const payloads = `case when json_type(new.args) = 'array' then json(new.args) else json_array(json(new.args)) end`;
  // GLOB is case-sensitive and matches the whole text: a newline or any other character outside the set is refused.
  const badName = (value: string, max: number, chars: string) =>
    `${value} is null or typeof(${value}) <> 'text' or length(${value}) not between 1 and ${max}
     or ${value} glob '*[^${chars}]*' or substr(${value}, 1, 1) glob '[^A-Za-z0-9]'`;
  return [
    `drop trigger if exists "${p}distcache_write_insert"`,
    `create trigger "${p}distcache_write_insert" instead of insert on ${view}
     begin
       ${fail(REFRESHER_ERROR, badName('new.refresher', 128, 'A-Za-z0-9._:/-'))}
       ${fail(CLUSTER_ERROR, `new.cluster is not null and (${badName('new.cluster', 64, 'A-Za-z0-9._-')})`)}
       ${fail(KIND_ERROR, `new.kind is null or new.kind not in ('refresh-all', 'refresh', 'remove', 'payload')`)}
       ${fail(
         IDS_ERROR,
         `new.kind in ('refresh', 'remove') and (new.args is null or not json_valid(new.args)
         or json_type(new.args) <> 'array' or json_array_length(new.args) = 0
         or exists (select 1 from json_each(new.args) e
           where e.type not in ('integer', 'real', 'text')
             or (e.type = 'text' and length(e.value) > 1024)
             or (e.type in ('integer', 'real') and not (e.value between -${MAX_SAFE} and ${MAX_SAFE}))))`,
       )}
       ${fail(
         PAYLOAD_ERROR,
         `new.kind = 'payload'
         and (new.args is null or not json_valid(new.args) or json_array_length(${payloads}) = 0)`,
       )}
       insert into "${instruction}" (json_instruction, originated, origin_instance, instruction_count, cluster)
       values (
         json_object('v', 1, 'instructions', json_array(case new.kind
           when 'refresh-all' then json_object('refresher', new.refresher, 'kind', new.kind)
           when 'payload' then json_object('refresher', new.refresher, 'kind', new.kind, 'payloads', ${payloads})
           else json_object('refresher', new.refresher, 'kind', new.kind, 'ids', json(new.args)) end)),
         'sql', null,
         case new.kind when 'refresh-all' then 1 when 'payload' then json_array_length(${payloads}) else json_array_length(new.args) end,
         coalesce(new.cluster, 'default'));
     end`,
  ];
}
