import type { Knex } from 'knex';

/**
 * The product table and the trigger that writes a cache instruction whenever product rows change,
 * whoever changes them: this app, a worker, a psql session, another language. The trigger runs in
 * the changing transaction, so the instruction commits (or rolls back) with the change itself.
 *
 * It is a statement trigger with transition tables: an UPDATE of 500 rows writes one instruction
 * row listing 500 ids, not 500 rows. The row uses distcache's JSON format, version 1:
 *   {"v":1,"instructions":[{"refresher":"product","kind":"refresh","ids":[42]}]}
 * and names only the payload columns; the others (cluster, utc_stamp, the PostgreSQL txid the
 * exact cursor needs) have defaults.
 */
export async function createProductSchema(knex: Knex, names: { product: string; instruction: string }): Promise<void> {
  const product = quote(names.product);
  const instruction = quote(names.instruction);
  const fn = quote(`${names.product}_cache_instruction`);
  await knex.raw(`
    create table ${product} (
      id integer primary key,
      name text not null,
      category text not null,
      price numeric(10, 2) not null
    )`);
  await knex.raw(`
    create function ${fn}() returns trigger language plpgsql as $$
    declare
      ids jsonb;
      kind text := case when tg_op = 'DELETE' then 'remove' else 'refresh' end;
    begin
      if tg_op = 'INSERT' then
        select jsonb_agg(id order by id) into ids from new_rows;
      elsif tg_op = 'DELETE' then
        select jsonb_agg(id order by id) into ids from old_rows;
      else
        -- An UPDATE may change the id itself: refresh the old and the new one.
        select jsonb_agg(id order by id) into ids from (select id from old_rows union select id from new_rows) changed;
      end if;
      if ids is null then
        return null; -- the statement changed no row
      end if;
      if jsonb_array_length(ids) > 1000 then
        -- Past this many, reloading the whole cache is cheaper than a huge row.
        insert into ${instruction} (json_instruction, originated, instruction_count)
        values (json_build_object('v', 1, 'instructions', json_build_array(
                  json_build_object('refresher', 'product', 'kind', 'refresh-all')))::text,
                'trigger:' || tg_table_name, 1);
      else
        insert into ${instruction} (json_instruction, originated, instruction_count)
        values (json_build_object('v', 1, 'instructions', json_build_array(
                  json_build_object('refresher', 'product', 'kind', kind, 'ids', ids)))::text,
                'trigger:' || tg_table_name, jsonb_array_length(ids));
      end if;
      return null;
    end $$`);
  // A trigger with transition tables serves one event, so there are three.
  await knex.raw(
    `create trigger ${quote(`${names.product}_ins`)} after insert on ${product} referencing new table as new_rows for each ` +
      `statement execute function ${fn}()`,
  );
  await knex.raw(
    `create trigger ${quote(`${names.product}_upd`)} after update on ${product} referencing old table as old_rows new table as ` +
      `new_rows for each statement execute function ${fn}()`,
  );
  await knex.raw(
    `create trigger ${quote(`${names.product}_del`)} after delete on ${product} referencing old table as old_rows for each ` +
      `statement execute function ${fn}()`,
  );
}

export async function dropProductSchema(knex: Knex, names: { product: string }): Promise<void> {
  await knex.raw(`drop table if exists ${quote(names.product)} cascade`);
  await knex.raw(`drop function if exists ${quote(`${names.product}_cache_instruction`)}() cascade`);
}

/** Names come from a validated prefix; quoting keeps them exact. */
function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}
