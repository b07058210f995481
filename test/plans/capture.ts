/**
 * The statements a piece of distcache sends, as the database receives them: SQL and bindings from
 * knex's `query` event, which knex emits for its own queries and runPooled for the statements the
 * stores keep prepared (src/store/prepared-runner.ts). The plan gate explains what it captured, so a
 * statement changed later is checked again without anyone copying it into a test.
 */
import type { Knex } from 'knex';

export interface CapturedStatement {
  /** The operation that sent it, for the gate's messages and bounds. */
  operation: string;
  sql: string;
  bindings: unknown[];
}

/** Runs `work` and returns every data statement knex sent meanwhile (transaction control left out). */
export async function captureStatements(knex: Knex, operation: string, work: () => Promise<unknown>): Promise<CapturedStatement[]> {
  const captured: CapturedStatement[] = [];
  const listener = (query: { sql?: unknown; bindings?: unknown }) => {
    const sql = typeof query.sql === 'string' ? query.sql : '';
    if (!isDataStatement(sql)) return;
    captured.push({ operation, sql, bindings: Array.isArray(query.bindings) ? [...(query.bindings as unknown[])] : [] });
  };
  knex.on('query', listener);
  try {
    await work();
  } finally {
    knex.off('query', listener);
  }
  return captured;
}

/** A statement with a plan: SELECT, WITH, INSERT, UPDATE, DELETE (not BEGIN, SAVEPOINT, SET, PRAGMA, DDL). */
export function isDataStatement(sql: string): boolean {
  return /^\s*\(?\s*(select|with|insert|update|delete)\b/i.test(sql);
}
