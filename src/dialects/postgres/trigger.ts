import type { TriggerArgs, TriggerSql } from '../types.js';

/** Statement triggers with transition tables: one instruction row per statement, whatever it touched. */
export function postgresTrigger(a: TriggerArgs): TriggerSql {
  const fn = `"${a.base}_changed"`;
  // Aliases other than new/old, which PL/pgSQL reserves for row triggers' records.
  const keys = (side: string) =>
    `select pg_catalog.to_jsonb(t_${side}."${a.key}") as k from distcache_${side} t_${side} where t_${side}."${a.key}" is not null`;
  const on = (event: string, tables: string) =>
    `create trigger "${a.base}_${event.slice(0, 3)}" after ${event} on "${a.table}" referencing ${tables}
       for each statement execute function ${fn}()`;
  return {
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
               and pg_catalog.abs((e operator(pg_catalog.#>>) '{}')::pg_catalog.numeric) > 9007199254740991)
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
