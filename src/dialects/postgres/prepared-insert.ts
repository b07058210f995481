import { quoteIdentifier } from '../../store/columns.js';
import type { NewInstructionRow } from '../../store/store.js';
import type { Knex } from 'knex';
import { PreparedStatement } from './prepared.js';
import { insertManySql, insertOneSql } from './sql/insert.js';

/**
 * The prepared INSERTs of a write outside a transaction: one row, or a batch of them, in one
 * autocommit statement; every write pays for knex's query building and a fresh parse otherwise.
 * A batch goes in as arrays through `unnest`, so one statement text serves every batch size; ids
 * come back in the rows' order. Each statement is built on first use.
 */
export class PreparedInsert {
  private one: PreparedStatement | undefined;
  private many: PreparedStatement | undefined;

  constructor(
    private readonly knex: Knex,
    private readonly instruction: string,
  ) {}

  /** The statement for `rows` (one, or more) and its values. */
  statement(rows: readonly NewInstructionRow[], cluster: string): { statement: PreparedStatement; values: unknown[] } {
    const table = () => quoteIdentifier(this.knex, this.instruction);
    if (rows.length === 1) {
      const row = rows[0]!;
      this.one ??= new PreparedStatement(insertOneSql(table()));
      return { statement: this.one, values: [row.json, row.originated, row.originInstance, row.instructionCount, cluster] };
    }
    this.many ??= new PreparedStatement(insertManySql(table()));
    const values = [
      rows.map((r) => r.json),
      rows.map((r) => r.originated),
      rows.map((r) => r.originInstance),
      rows.map((r) => r.instructionCount),
      cluster,
    ];
    return { statement: this.many, values };
  }
}
