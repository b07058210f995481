import { INSERT_COLUMN_LIST } from '../../../store/columns.js';

/**
 * The SQL of a write outside a transaction: one prepared statement for one row, one for a batch.
 * `instruction` is the quoted table name.
 */

export function insertOneSql(instruction: string): string {
  return `insert into ${instruction} (${INSERT_COLUMN_LIST})
       values ($1, $2, $3, $4, $5) returning id`;
}

/** A batch goes in as arrays through `unnest`, so one statement text serves every batch size; ids come back in the rows' order. */
export function insertManySql(instruction: string): string {
  return `insert into ${instruction} (${INSERT_COLUMN_LIST})
       select u.json, u.originated, u.origin_instance, u.instruction_count, $5
       from unnest($1::text[], $2::text[], $3::text[], $4::int[]) 
         with ordinality as u(json, originated, origin_instance, instruction_count, n)
       order by u.n
       returning id`;
}
