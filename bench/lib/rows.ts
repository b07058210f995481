import type { Knex } from 'knex';
import { dialectFor } from '../../src/dialects/dialect.js';
import { encodeInstructions } from '../../src/instructions/codec.js';

/** What a hand-written writer would insert for a refresh of `ids`: the same row distcache writes. */
export function rawRow(ids: number[], originated = 'raw') {
  return {
    json_instruction: encodeInstructions([{ refresher: 'bench', kind: 'refresh', ids }]),
    originated,
    origin_instance: null,
    instruction_count: ids.length,
    cluster: 'default',
  };
}

/** A copy of the instruction table's columns and indexes without the exact cursor's column, default or trigger. */
export async function createPlainTable(knex: Knex, name: string): Promise<void> {
  const dialect = dialectFor(knex);
  await knex.schema.dropTableIfExists(name);
  await knex.schema.createTable(name, (table) => {
    table.bigIncrements('id').primary();
    dialect.timestamp(table, 'utc_stamp').notNullable().defaultTo(dialect.nowDefault(knex));
    table.text('json_instruction', 'longtext').notNullable();
    table.string('originated', 255).notNullable();
    table.string('origin_instance', 64).nullable();
    table.integer('instruction_count').notNullable().defaultTo(1);
    table.string('cluster', 64).notNullable().defaultTo('default');
    table.index(['cluster', 'id'], `${name}_cluster_id`);
    table.index(['utc_stamp'], `${name}_stamp`);
  });
}
