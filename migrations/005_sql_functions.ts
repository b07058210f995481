import type { Knex } from 'knex';
import type { MigrationContext } from '../src/migrations/context.js';

/**
 * SQL entry points that write the same format-1 instruction row as the writer, inside the caller's
 * transaction, for psql sessions, nightly imports and services in other languages (docs/clients.md).
 * Public API: their names and arguments change only through a later migration. Never edit once landed.
 *
 * - PostgreSQL: functions `<prefix>distcache_refresh(refresher, ids jsonb, cluster default 'default')`,
 *   `_remove`, `_refresh_all(refresher, cluster)`, `_payload(refresher, payloads jsonb, cluster)`, all
 *   over `_write(kind, refresher, args, cluster)`; each returns the row id. `_wake(cluster)` sends the
 *   NOTIFY the servers listen on: run it after COMMIT (a NOTIFY inside the transaction would
 *   serialise every commit in the database on the notification queue lock).
 * - MySQL/MariaDB: procedures of the same names; every argument is required (procedures have no
 *   defaults), a NULL cluster meaning 'default'. No wake-up: servers read the row at their next poll.
 * - SQLite: a view `<prefix>distcache_write (kind, refresher, args, cluster)` whose INSTEAD OF INSERT
 *   trigger writes the row.
 *
 * Each checks its input as the writer does and refuses bad input with an error naming the fix.
 * The SQL is written out here, per dialect, so what a fresh install runs never drifts from an upgrade.
 */
export async function up(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  const build = dialect.name === 'postgres' ? postgres : dialect.name === 'mysql' ? mysql : sqlite;
  const statements = build(tables.prefix);
  // Each replaces what it names: tables dropped by hand leave these behind, and a re-run must not fail on them.
  for (const statement of statements) await knex.raw(statement);
}

export async function down(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  const p = tables.prefix;
  const kinds = ['write', 'refresh', 'remove', 'refresh_all', 'payload'];
  if (dialect.name === 'postgres') {
    for (const name of [...kinds, 'wake']) await knex.raw(`drop function if exists "${p}distcache_${name}"`);
  } else if (dialect.name === 'mysql') {
    for (const name of kinds) await knex.raw(`drop procedure if exists \`${p}distcache_${name}\``);
  } else {
    await knex.raw(`drop view if exists "${p}distcache_write"`);
  }
}

const REFRESHER_ERROR = 'distcache: refresher must be a non-empty text of at most 256 characters';
const CLUSTER_ERROR =
  'distcache: cluster must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit (or NULL for default)';
const KIND_ERROR = 'distcache: kind must be one of refresh-all, refresh, remove, payload';
const IDS_ERROR =
  `distcache: ids must be a non-empty JSON array of numbers and strings (strings of at most 1024 characters), ` + `e.g. '[42, "sku-1"]'`;
const PAYLOAD_ERROR = 'distcache: payloads must be JSON (one value, or a non-empty array of values), nesting at most 2000 levels';

/** `'text'` as a SQL string literal. */
const lit = (text: string) => `'${text.replace(/'/g, "''")}'`;

function postgres(p: string): string[] {
  const fn = (name: string) => `"${p}distcache_${name}"`;
  return [
    `create or replace function ${fn('write')}(kind text, refresher text, args jsonb, cluster text default 'default') returns bigint
     language plpgsql as $body$
     declare
       v_cluster text := coalesce(cluster, 'default');
       v_args jsonb := args;
       v_field text;
       v_count integer := 1;
       v_id bigint;
     begin
       if refresher is null or length(refresher) = 0 or length(refresher) > 256 then
         raise exception using errcode = '22023', message = ${lit(REFRESHER_ERROR)};
       end if;
       if v_cluster !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' then
         raise exception using errcode = '22023', message = ${lit(CLUSTER_ERROR)};
       end if;
       if kind in ('refresh', 'remove') then
         if v_args is null or jsonb_typeof(v_args) <> 'array' or jsonb_array_length(v_args) = 0 or exists (
           select 1 from jsonb_array_elements(v_args) e
           where jsonb_typeof(e) not in ('number', 'string')
             or (jsonb_typeof(e) = 'string' and length(e #>> '{}') > 1024)
             -- JavaScript reads a larger number as Infinity, which no refresher accepts as an id.
             or (jsonb_typeof(e) = 'number' and abs((e #>> '{}')::numeric) > 1.7976931348623157e308)
         ) then
           raise exception using errcode = '22023', message = ${lit(IDS_ERROR)};
         end if;
         v_field := 'ids';
         v_count := jsonb_array_length(v_args);
       elsif kind = 'payload' then
         -- One value is one payload, as refreshPayload(name, value) takes it.
         if v_args is not null and jsonb_typeof(v_args) <> 'array' then v_args := jsonb_build_array(v_args); end if;
         if v_args is null or jsonb_array_length(v_args) = 0
           or jsonb_path_exists(v_args, 'strict $.**{2000} \\? (@.type() == "array" || @.type() == "object")') then
           raise exception using errcode = '22023', message = ${lit(PAYLOAD_ERROR)};
         end if;
         v_field := 'payloads';
         v_count := jsonb_array_length(v_args);
       elsif kind is distinct from 'refresh-all' then
         raise exception using errcode = '22023', message = ${lit(KIND_ERROR)};
       end if;
       insert into "${p}cache_instruction" (json_instruction, originated, origin_instance, instruction_count, cluster)
       values (
         '{"v":1,"instructions":[{"refresher":' || to_json(refresher)::text || ',"kind":"' || kind || '"'
           || coalesce(',"' || v_field || '":' || v_args::text, '') || '}]}',
         left('sql:' || current_user, 255), null, v_count, v_cluster)
       returning id into v_id;
       return v_id;
     end
     $body$`,
    `create or replace function ${fn('refresh')}(refresher text, ids jsonb, cluster text default 'default') returns bigint
     language sql as $body$ select ${fn('write')}('refresh', $1, $2, $3) $body$`,
    `create or replace function ${fn('remove')}(refresher text, ids jsonb, cluster text default 'default') returns bigint
     language sql as $body$ select ${fn('write')}('remove', $1, $2, $3) $body$`,
    `create or replace function ${fn('refresh_all')}(refresher text, cluster text default 'default') returns bigint
     language sql as $body$ select ${fn('write')}('refresh-all', $1, null, $2) $body$`,
    `create or replace function ${fn('payload')}(refresher text, payloads jsonb, cluster text default 'default') returns bigint
     language sql as $body$ select ${fn('write')}('payload', $1, $2, $3) $body$`,
    // The channel name as src/wake/channel.ts builds it: 'distcache:<prefix>:<cluster>', hashed past 63 bytes.
    `create or replace function ${fn('wake')}(cluster text default 'default') returns void
     language sql as $body$
       select pg_notify(case when octet_length(c) <= 63 then c
         else 'distcache:' || left(encode(sha256(convert_to(c, 'UTF8')), 'hex'), 40) end, '')
       from (select 'distcache:${p}:' || coalesce($1, 'default') as c) s
     $body$`,
  ];
}

function mysql(p: string): string[] {
  const proc = (name: string) => `\`${p}distcache_${name}\``;
  const fail = (message: string) => `SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = ${lit(message)}`;
  const thin = (name: string, kind: string, withArgs: boolean) => {
    const argName = kind === 'payload' ? 'payloads' : 'ids';
    return `CREATE PROCEDURE ${proc(name)}(IN refresher VARCHAR(300), ${withArgs ? `IN ${argName} LONGTEXT, ` : ''}IN cluster VARCHAR(100))
     MODIFIES SQL DATA
     BEGIN CALL ${proc('write')}('${kind}', refresher, ${withArgs ? argName : 'NULL'}, cluster); END`;
  };
  const drops = ['write', 'refresh', 'remove', 'refresh_all', 'payload'].map((name) => `DROP PROCEDURE IF EXISTS ${proc(name)}`);
  return [
    ...drops,
    `CREATE PROCEDURE ${proc('write')}(IN p_kind VARCHAR(32), IN p_refresher VARCHAR(300), IN p_args LONGTEXT, IN p_cluster VARCHAR(100))
     MODIFIES SQL DATA
     BEGIN
       DECLARE v_cluster VARCHAR(100) DEFAULT COALESCE(p_cluster, 'default');
       DECLARE v_args LONGTEXT DEFAULT p_args;
       DECLARE v_field VARCHAR(16) DEFAULT NULL;
       DECLARE v_count INT DEFAULT 1;
       DECLARE v_i INT DEFAULT 0;
       DECLARE v_type VARCHAR(32);
       IF p_refresher IS NULL OR CHAR_LENGTH(p_refresher) = 0 OR CHAR_LENGTH(p_refresher) > 256 THEN ${fail(REFRESHER_ERROR)}; END IF;
       IF NOT (v_cluster REGEXP BINARY '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$') THEN ${fail(CLUSTER_ERROR)}; END IF;
       IF p_kind IN ('refresh', 'remove') THEN
         IF v_args IS NULL OR NOT JSON_VALID(v_args) OR JSON_TYPE(v_args) <> 'ARRAY' OR JSON_LENGTH(v_args) = 0 THEN
           ${fail(IDS_ERROR)};
         END IF;
         SET v_count = JSON_LENGTH(v_args);
         WHILE v_i < v_count DO
           SET v_type = JSON_TYPE(JSON_EXTRACT(v_args, CONCAT('$[', v_i, ']')));
           IF v_type NOT IN ('INTEGER', 'UNSIGNED INTEGER', 'DOUBLE', 'DECIMAL', 'STRING')
             OR (v_type = 'STRING' AND CHAR_LENGTH(JSON_UNQUOTE(JSON_EXTRACT(v_args, CONCAT('$[', v_i, ']')))) > 1024) THEN
             ${fail(IDS_ERROR)};
           END IF;
           SET v_i = v_i + 1;
         END WHILE;
         SET v_field = 'ids';
       ELSEIF p_kind = 'payload' THEN
         IF v_args IS NULL OR NOT JSON_VALID(v_args) THEN ${fail(PAYLOAD_ERROR)}; END IF;
         -- One value is one payload, as refreshPayload(name, value) takes it.
         IF JSON_TYPE(v_args) <> 'ARRAY' THEN SET v_args = CONCAT('[', v_args, ']'); END IF;
         IF JSON_LENGTH(v_args) = 0 OR JSON_DEPTH(v_args) > 2001 THEN ${fail(PAYLOAD_ERROR)}; END IF;
         SET v_field = 'payloads';
         SET v_count = JSON_LENGTH(v_args);
       ELSEIF p_kind IS NULL OR p_kind <> 'refresh-all' THEN ${fail(KIND_ERROR)};
       END IF;
       INSERT INTO \`${p}cache_instruction\` (json_instruction, originated, origin_instance, instruction_count, cluster)
       VALUES (
         CONCAT('{"v":1,"instructions":[{"refresher":', JSON_QUOTE(p_refresher), ',"kind":"', p_kind, '"',
           IF(v_field IS NULL, '', CONCAT(',"', v_field, '":', v_args)), '}]}'),
         LEFT(CONCAT('sql:', CURRENT_USER()), 255), NULL, v_count, v_cluster);
     END`,
    thin('refresh', 'refresh', true),
    thin('remove', 'remove', true),
    thin('refresh_all', 'refresh-all', false),
    thin('payload', 'payload', true),
  ];
}

function sqlite(p: string): string[] {
  const view = `"${p}distcache_write"`;
  const fail = (message: string, when: string) => `select raise(abort, ${lit(message)}) where ${when};`;
  const payloads = `case when json_type(new.args) = 'array' then json(new.args) else json_array(json(new.args)) end`;
  return [
    `drop view if exists ${view}`,
    `create view ${view} as select null as kind, null as refresher, null as args, null as cluster where 0`,
    `create trigger "${p}distcache_write_insert" instead of insert on ${view}
     begin
       ${fail(
         REFRESHER_ERROR,
         `new.refresher is null or typeof(new.refresher) <> 'text'
         or length(new.refresher) = 0 or length(new.refresher) > 256`,
       )}
       ${fail(
         CLUSTER_ERROR,
         `new.cluster is not null and (typeof(new.cluster) <> 'text' or length(new.cluster) not between 1 and 64
         or new.cluster glob '*[^A-Za-z0-9._-]*' or substr(new.cluster, 1, 1) glob '[._-]')`,
       )}
       ${fail(KIND_ERROR, `new.kind is null or new.kind not in ('refresh-all', 'refresh', 'remove', 'payload')`)}
       ${fail(
         IDS_ERROR,
         `new.kind in ('refresh', 'remove') and (new.args is null or not json_valid(new.args)
         or json_type(new.args) <> 'array' or json_array_length(new.args) = 0
         or exists (select 1 from json_each(new.args) e
           where e.type not in ('integer', 'real', 'text') or (e.type = 'text' and length(e.value) > 1024)))`,
       )}
       ${fail(
         PAYLOAD_ERROR,
         `new.kind = 'payload'
         and (new.args is null or not json_valid(new.args) or json_array_length(${payloads}) = 0)`,
       )}
       insert into "${p}cache_instruction" (json_instruction, originated, origin_instance, instruction_count, cluster)
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
