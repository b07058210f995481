import type { Knex } from 'knex';
import { driverOf, runPooled } from '../../store/prepared-runner.js';

/** The part of a mysql2 connection this uses. */
interface Connection {
  execute(sql: string, values: unknown[], callback: (err: Error | null, result: unknown) => void): void;
}

/**
 * Runs `sql` as a server-side prepared statement through mysql2's `execute`, which keeps it
 * prepared on the connection: an idle poll through knex.raw pays for building the SQL and a
 * fresh parse on the server every time. Bounded by `timeoutMs`; past it the statement is killed
 * (KILL QUERY), as knex does. Returns undefined when the driver is not mysql2: the caller then
 * goes through knex.
 *
 * LIMIT values are written into the SQL text rather than bound: MySQL 8 refuses a LIMIT
 * parameter that mysql2 sends as a double.
 */
export async function runExecuted(knex: Knex, sql: string, params: unknown[], timeoutMs: number): Promise<unknown> {
  if (driverOf(knex) !== 'mysql2') return undefined;
  return runPooled(
    knex,
    sql,
    params,
    timeoutMs,
    (connection: Connection) =>
      new Promise((resolve, reject) => {
        connection.execute(sql, params, (err, result) => (err ? reject(err) : resolve(result)));
      }),
  );
}
