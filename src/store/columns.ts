import type { Knex } from 'knex';
import type { CursorState, NewInstructionRow, StoredInstructionRow } from './store.js';

/**
 * The instruction and cursor tables as every dialect reads and writes them: the column lists, the
 * row and cursor shapes, identifier quoting, and the driver-shaped results of knex.raw. One home,
 * so a column added to the log is added once.
 */

/** Columns read for an instruction row, the same on every dialect. */
export const ROW_COLUMNS = ['id', 'utc_stamp', 'json_instruction', 'originated', 'origin_instance', 'instruction_count'] as const;

/** Columns a write fills, in the order of `insertValueList`; PostgreSQL's prepared inserts name them too. */
export const INSERT_COLUMN_LIST = 'json_instruction, originated, origin_instance, instruction_count, cluster';

/** A new row's values in INSERT_COLUMN_LIST's order. */
export function insertValueList(row: NewInstructionRow, cluster: string): unknown[] {
  return [row.json, row.originated, row.originInstance, row.instructionCount, cluster];
}

/** A new row as the knex query builder inserts it. */
export function insertRecord(row: NewInstructionRow, cluster: string): Record<string, unknown> {
  return {
    json_instruction: row.json,
    originated: row.originated,
    origin_instance: row.originInstance,
    instruction_count: row.instructionCount,
    cluster,
  };
}

/** One row's INSERT with `?` placeholders, the table quoted the way this knex client quotes. */
export function insertSql(knex: Knex, table: string): string {
  return `insert into ${quoteIdentifier(knex, table)} (${INSERT_COLUMN_LIST}) values (?, ?, ?, ?, ?)`;
}

/**
 * An identifier quoted the way this knex client quotes it. Table names come from a validated
 * prefix (no dots, no quotes), so this is exactly `"name"` on PostgreSQL and SQLite, `name` in
 * backticks on MySQL.
 */
export function quoteIdentifier(knex: Knex, name: string): string {
  return knex.raw('??', [name]).toQuery();
}

export function toRow(raw: Record<string, unknown>): StoredInstructionRow {
  return {
    id: Number(raw.id),
    utcStamp: toDate(raw.utc_stamp) ?? new Date(0),
    json:
      typeof raw.json_instruction === 'string'
        ? raw.json_instruction
        : Buffer.isBuffer(raw.json_instruction)
          ? raw.json_instruction.toString('utf8')
          : String(raw.json_instruction),
    originated: String(raw.originated ?? ''),
    originInstance: raw.origin_instance == null ? null : String(raw.origin_instance),
    instructionCount: Number(raw.instruction_count ?? 0),
  };
}

export function toDate(value: unknown): Date | null {
  if (value == null) return null;
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value);
  const text = String(value);
  // SQLite's CURRENT_TIMESTAMP has no zone marker but is UTC.
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(' ', 'T')}Z`);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function toBool(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't';
}

export const CURSOR_COLUMNS = ['position', 'cold_boot_requested', 'last_synced', 'database_identity'] as const;

export function toCursor(raw: Record<string, unknown>): CursorState {
  return {
    position: String(raw.position),
    databaseIdentity: raw.database_identity == null ? null : String(raw.database_identity),
    coldBootRequested: toBool(raw.cold_boot_requested),
    lastSynced: toDate(raw.last_synced),
  };
}

/** knex.raw returns driver-shaped results: an array (sqlite), `{ rows }` (pg) or `[rows, fields]` (mysql). */
export function rawRows(result: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(result)) {
    if (Array.isArray(result[0])) return result[0] as Array<Record<string, unknown>>;
    return result as Array<Record<string, unknown>>;
  }
  if (result && typeof result === 'object' && Array.isArray((result as { rows?: unknown }).rows)) {
    return (result as { rows: Array<Record<string, unknown>> }).rows;
  }
  return [];
}
