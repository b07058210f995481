import type { Knex } from 'knex';
import type { MigrationContext } from '../src/migrations/context.js';

/**
 * Hardening against a database user with less than full trust (issue 22). Never edit once landed.
 *
 * - Every row is bounded: its JSON text at most 16 MiB (MAX_ROW_BYTES in src/instructions/limits.ts,
 *   written out here so the migration never changes with the code) and an instruction_count above 0,
 *   for every writer, plain SQL included. PostgreSQL adds the CHECK NOT VALID (rows already there are
 *   not scanned: readers bound what they fetch themselves); MariaDB/MySQL checks on insert and update
 *   through a trigger (a CHECK would scan and refuse a table holding an old oversize row); SQLite
 *   through triggers too (it cannot add a CHECK to a table), measuring bytes as a blob's
 *   length: octet_length is new in SQLite 3.43, and older clients (the sqlite3 shell of a distribution) write here too.
 * - PostgreSQL: migration 005's functions are re-created so they cannot be hijacked: SECURITY DEFINER
 *   (a writer role needs EXECUTE only, no table privilege), `SET search_path = pg_catalog, pg_temp`,
 *   every built-in and the table schema-qualified, EXECUTE revoked from PUBLIC (docs/security.md
 *   grants it per role). `originated` is the session user (the definer would be the owner). They
 *   check refresher, cluster and ids as the writer does, in linear time.
 * - MariaDB/MySQL: the procedures take `originated` from SESSION_USER() (they run as their definer),
 *   refuse a cluster with a trailing newline (PCRE's `$` matched before it) and numeric ids outside
 *   ±(2^53 − 1), which JavaScript reads as another number.
 */
export async function up(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  const p = tables.prefix;
  if (dialect.name === 'postgres') {
    const [row] = ((await knex.raw('select current_schema() as s')) as { rows: Array<{ s: string }> }).rows;
    const schema = `"${String(row?.s).replace(/"/g, '""')}"`;
    await knex.raw(
      `alter table ${schema}."${tables.instruction}" add constraint "${tables.instruction}_bounded"
       check (pg_catalog.octet_length(json_instruction) <= ${MAX_ROW_BYTES} and instruction_count > 0) not valid`,
    );
    for (const statement of postgres(p, schema, tables.instruction)) await knex.raw(statement);
  } else if (dialect.name === 'mysql') {
    for (const statement of mysql(p, tables.instruction)) await knex.raw(statement);
  } else {
    for (const statement of sqlite(tables.instruction)) await knex.raw(statement);
  }
}

export async function down(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  // The functions and procedures stay as re-created: 005's down drops them.
  if (dialect.name === 'postgres') {
    await knex.raw(`alter table "${tables.instruction}" drop constraint if exists "${tables.instruction}_bounded"`);
  } else if (dialect.name === 'mysql') {
    for (const event of ['ins', 'upd']) await knex.raw(`drop trigger if exists \`${tables.instruction}_bounded_${event}\``);
  } else {
    for (const event of ['ins', 'upd']) await knex.raw(`drop trigger if exists "${tables.instruction}_bounded_${event}"`);
  }
}

/** 16 MiB: MAX_ROW_BYTES as this migration wrote it. */
const MAX_ROW_BYTES = 16777216;
/** 2^53 − 1: the largest integer every JavaScript reader reads back as written. */
const MAX_SAFE = '9007199254740991';

const ROW_ERROR = `distcache: an instruction row is at most ${MAX_ROW_BYTES} bytes of JSON with an instruction_count above 0`;
const REFRESHER_ERROR = 'distcache: refresher must be 1 to 128 letters, digits, ".", "_", ":", "/" or "-", starting with a letter or digit';
const CLUSTER_ERROR =
  'distcache: cluster must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit (or NULL for default)';
const KIND_ERROR = 'distcache: kind must be one of refresh-all, refresh, remove, payload';
const IDS_ERROR =
  'distcache: ids must be a non-empty JSON array of numbers within ±(2^53 − 1) and strings of at most 1024 characters, ' +
  `e.g. '[42, "sku-1"]'`;
const PAYLOAD_ERROR = 'distcache: payloads must be JSON (one value, or a non-empty array of values), nesting at most 2000 levels';
const SIZE_ERROR = `distcache: the instruction row would be over ${MAX_ROW_BYTES} bytes; send fewer ids or payloads per call`;

/** `'text'` as a SQL string literal. */
const lit = (text: string) => `'${text.replace(/'/g, "''")}'`;

function postgres(p: string, schema: string, instruction: string): string[] {
  const fn = (name: string) => `${schema}."${p}distcache_${name}"`;
  const pinned = 'security definer set search_path = pg_catalog, pg_temp';
  const fail = (message: string) => `raise exception using errcode = '22023', message = ${lit(message)}`;
  const signatures = [
    `${fn('write')}(text, text, jsonb, text)`,
    `${fn('refresh')}(text, jsonb, text)`,
    `${fn('remove')}(text, jsonb, text)`,
    `${fn('refresh_all')}(text, text)`,
    `${fn('payload')}(text, jsonb, text)`,
    `${fn('wake')}(text)`,
  ];
  const thin = (name: string, kind: string, args: string, call: string) =>
    `create or replace function ${fn(name)}(${args}) returns bigint language sql ${pinned}
     as $body$ select ${fn('write')}('${kind}', ${call}) $body$`;
  return [
    `create or replace function ${fn('write')}(kind text, refresher text, args jsonb, cluster text default 'default') returns bigint
     language plpgsql ${pinned} as $body$
     declare
       v_cluster text := coalesce(cluster, 'default');
       v_args jsonb := args;
       v_field text;
       v_count integer := 1;
       v_json text;
       v_id bigint;
     begin
       -- The writer's rules (REFRESHER_ID_PATTERN, CLUSTER_PATTERN): ARE's $ is the end of the text, never before a newline.
       if refresher is null or refresher operator(pg_catalog.!~) '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$' then
         ${fail(REFRESHER_ERROR)};
       end if;
       if v_cluster operator(pg_catalog.!~) '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' then ${fail(CLUSTER_ERROR)}; end if;
       if kind in ('refresh', 'remove') then
         if v_args is null or pg_catalog.jsonb_typeof(v_args) <> 'array' or pg_catalog.jsonb_array_length(v_args) = 0 or exists (
           select 1 from pg_catalog.jsonb_array_elements(v_args) e
           where pg_catalog.jsonb_typeof(e) not in ('number', 'string')
             or (pg_catalog.jsonb_typeof(e) = 'string' and pg_catalog.length(e operator(pg_catalog.#>>) '{}') > 1024)
             or (pg_catalog.jsonb_typeof(e) = 'number'
               and pg_catalog.abs((e operator(pg_catalog.#>>) '{}')::pg_catalog.numeric) > ${MAX_SAFE})
         ) then
           ${fail(IDS_ERROR)};
         end if;
         v_field := 'ids';
         v_count := pg_catalog.jsonb_array_length(v_args);
       elsif kind = 'payload' then
         if v_args is not null and pg_catalog.jsonb_typeof(v_args) <> 'array' then v_args := pg_catalog.jsonb_build_array(v_args); end if;
         if v_args is null or pg_catalog.jsonb_array_length(v_args) = 0
           or pg_catalog.jsonb_path_exists(v_args, 'strict $.**{2000} \\? (@.type() == "array" || @.type() == "object")') then
           ${fail(PAYLOAD_ERROR)};
         end if;
         v_field := 'payloads';
         v_count := pg_catalog.jsonb_array_length(v_args);
       elsif kind is distinct from 'refresh-all' then
         ${fail(KIND_ERROR)};
       end if;
       v_json := '{"v":1,"instructions":[{"refresher":' || pg_catalog.to_json(refresher)::text || ',"kind":"' || kind || '"'
         || coalesce(',"' || v_field || '":' || v_args::text, '') || '}]}';
       if pg_catalog.octet_length(v_json) > ${MAX_ROW_BYTES} then ${fail(SIZE_ERROR)}; end if;
       insert into ${schema}."${instruction}" (json_instruction, originated, origin_instance, instruction_count, cluster)
       values (v_json, pg_catalog.left('sql:' || session_user, 255), null, v_count, v_cluster)
       returning id into v_id;
       return v_id;
     end
     $body$`,
    thin('refresh', 'refresh', `refresher text, ids jsonb, cluster text default 'default'`, '$1, $2, $3'),
    thin('remove', 'remove', `refresher text, ids jsonb, cluster text default 'default'`, '$1, $2, $3'),
    thin('refresh_all', 'refresh-all', `refresher text, cluster text default 'default'`, '$1, null, $2'),
    thin('payload', 'payload', `refresher text, payloads jsonb, cluster text default 'default'`, '$1, $2, $3'),
    // Not SECURITY DEFINER: NOTIFY needs no privilege, and the caller's own is enough.
    `create or replace function ${fn('wake')}(cluster text default 'default') returns void
     language sql set search_path = pg_catalog, pg_temp as $body$
       select pg_catalog.pg_notify(case when pg_catalog.octet_length(c) <= 63 then c
         else 'distcache:' || pg_catalog.left(pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(c, 'UTF8')), 'hex'), 40) end, '')
       from (select 'distcache:${p}:' || coalesce($1, 'default') as c) s
     $body$`,
    ...signatures.map((signature) => `revoke execute on function ${signature} from public`),
  ];
}

function mysql(p: string, instruction: string): string[] {
  const proc = (name: string) => `\`${p}distcache_${name}\``;
  const fail = (message: string) => `SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = ${lit(message)}`;
  const thin = (name: string, kind: string, withArgs: boolean) => {
    const argName = kind === 'payload' ? 'payloads' : 'ids';
    return `CREATE PROCEDURE ${proc(name)}(IN refresher VARCHAR(300), ${withArgs ? `IN ${argName} LONGTEXT, ` : ''}IN cluster VARCHAR(100))
     MODIFIES SQL DATA
     BEGIN CALL ${proc('write')}('${kind}', refresher, ${withArgs ? argName : 'NULL'}, cluster); END`;
  };
  const bound = (event: string) =>
    `CREATE TRIGGER \`${instruction}_bounded_${event}\` BEFORE ${event === 'ins' ? 'INSERT' : 'UPDATE'} ON \`${instruction}\`
     FOR EACH ROW BEGIN
       IF OCTET_LENGTH(NEW.json_instruction) > ${MAX_ROW_BYTES} OR NEW.instruction_count <= 0 THEN ${fail(ROW_ERROR)}; END IF;
     END`;
  // Each element once, in one pass of JSON_TABLE (a JSON_EXTRACT per index rescans the text: 8,000 ids took 1.8 s).
  // j is the element's JSON text: a string starts with ", a number with - or a digit; anything else is refused.
  const badIds = `SELECT COUNT(*) FROM JSON_TABLE(v_args, '$[*]' COLUMNS (j JSON PATH '$', s LONGTEXT PATH '$' NULL ON ERROR)) t
    WHERE t.j IS NULL OR NOT (t.j REGEXP BINARY '^("|-?[0-9])')
      OR (t.j LIKE '"%' AND CHAR_LENGTH(t.s) > 1024)
      OR (t.j NOT LIKE '"%' AND ABS(CAST(t.j AS DOUBLE)) > ${MAX_SAFE})`;
  return [
    `DROP TRIGGER IF EXISTS \`${instruction}_bounded_ins\``,
    `DROP TRIGGER IF EXISTS \`${instruction}_bounded_upd\``,
    bound('ins'),
    bound('upd'),
    ...['write', 'refresh', 'remove', 'refresh_all', 'payload'].map((name) => `DROP PROCEDURE IF EXISTS ${proc(name)}`),
    `CREATE PROCEDURE ${proc('write')}(IN p_kind VARCHAR(32), IN p_refresher VARCHAR(300), IN p_args LONGTEXT, IN p_cluster VARCHAR(100))
     MODIFIES SQL DATA
     BEGIN
       DECLARE v_cluster VARCHAR(100) DEFAULT COALESCE(p_cluster, 'default');
       DECLARE v_args LONGTEXT DEFAULT p_args;
       DECLARE v_field VARCHAR(16) DEFAULT NULL;
       DECLARE v_count INT DEFAULT 1;
       DECLARE v_json LONGTEXT;
       -- \\z, not $: PCRE's $ also matches before a final newline, and 'default\\n' would be a cluster no server reads.
       IF p_refresher IS NULL OR NOT (p_refresher REGEXP BINARY '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}\\\\z') THEN
         ${fail(REFRESHER_ERROR)};
       END IF;
       IF NOT (v_cluster REGEXP BINARY '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\\\\z') THEN ${fail(CLUSTER_ERROR)}; END IF;
       IF p_kind IN ('refresh', 'remove') THEN
         IF v_args IS NULL OR NOT JSON_VALID(v_args) OR JSON_TYPE(v_args) <> 'ARRAY' OR JSON_LENGTH(v_args) = 0 THEN
           ${fail(IDS_ERROR)};
         END IF;
         IF (${badIds}) > 0 THEN ${fail(IDS_ERROR)}; END IF;
         SET v_count = JSON_LENGTH(v_args);
         SET v_field = 'ids';
       ELSEIF p_kind = 'payload' THEN
         IF v_args IS NULL OR NOT JSON_VALID(v_args) THEN ${fail(PAYLOAD_ERROR)}; END IF;
         IF JSON_TYPE(v_args) <> 'ARRAY' THEN SET v_args = CONCAT('[', v_args, ']'); END IF;
         IF JSON_LENGTH(v_args) = 0 OR JSON_DEPTH(v_args) > 2001 THEN ${fail(PAYLOAD_ERROR)}; END IF;
         SET v_field = 'payloads';
         SET v_count = JSON_LENGTH(v_args);
       ELSEIF p_kind IS NULL OR p_kind <> 'refresh-all' THEN ${fail(KIND_ERROR)};
       END IF;
       SET v_json = CONCAT('{"v":1,"instructions":[{"refresher":', JSON_QUOTE(p_refresher), ',"kind":"', p_kind, '"',
         IF(v_field IS NULL, '', CONCAT(',"', v_field, '":', v_args)), '}]}');
       IF OCTET_LENGTH(v_json) > ${MAX_ROW_BYTES} THEN ${fail(SIZE_ERROR)}; END IF;
       -- SESSION_USER(): the caller; a procedure runs as its definer, so CURRENT_USER() would name the definer.
       INSERT INTO \`${instruction}\` (json_instruction, originated, origin_instance, instruction_count, cluster)
       VALUES (v_json, LEFT(CONCAT('sql:', SESSION_USER()), 255), NULL, v_count, v_cluster);
     END`,
    thin('refresh', 'refresh', true),
    thin('remove', 'remove', true),
    thin('refresh_all', 'refresh-all', false),
    thin('payload', 'payload', true),
  ];
}

function sqlite(instruction: string): string[] {
  const bound = (event: string) =>
    `create trigger "${instruction}_bounded_${event}" before ${event === 'ins' ? 'insert' : 'update'} on "${instruction}"
     when length(cast(new.json_instruction as blob)) > ${MAX_ROW_BYTES} or new.instruction_count <= 0
     begin select raise(abort, ${lit(ROW_ERROR)}); end`;
  return [
    `drop trigger if exists "${instruction}_bounded_ins"`,
    `drop trigger if exists "${instruction}_bounded_upd"`,
    bound('ins'),
    bound('upd'),
  ];
}
