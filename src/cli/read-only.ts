/** The query method of a pg.Client, as knex and the stores call it. */
interface PgQueryable {
  query(config: unknown, ...rest: unknown[]): unknown;
}

const BEGIN = /^\s*(begin|start\s+transaction)\b/i;
const END = /^\s*(commit|end|rollback)\b(?!\s+to\b)/i;

/**
 * Makes every statement on a pg connection run in a read-only transaction of its own, so a
 * read-only CLI command provably never writes, without leaving anything on the session: the
 * session-wide `SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY` would stay on a server
 * session that a transaction-mode pooler (PgBouncer) then hands to the application, whose writes
 * fail with 25006. A statement outside a transaction is sent as `begin read only`, the statement,
 * `commit`, queued back to back on the connection (no extra wait between them); a failed
 * statement's `commit` ends in a rollback. A transaction the caller opens itself is made read-only.
 */
export function readOnlyTransactions(connection: PgQueryable): void {
  const query = connection.query.bind(connection);
  let inTransaction = false;
  connection.query = (config: unknown, ...rest: unknown[]) => {
    const text = typeof config === 'string' ? config : typeof (config as { text?: unknown })?.text === 'string' ? (config as { text: string }).text : '';
    if (BEGIN.test(text)) {
      inTransaction = true;
      const readOnly = /\bread\s+(only|write)\b/i.test(text) ? text : `${text.replace(/;\s*$/, '')} read only`;
      return query(typeof config === 'string' ? readOnly : { ...(config as object), text: readOnly }, ...rest);
    }
    if (inTransaction) {
      if (END.test(text)) inTransaction = false;
      return query(config, ...rest);
    }
    // Errors of these two surface through the statement itself (a broken connection fails it too).
    swallow(query('begin read only'));
    const result = query(config, ...rest);
    swallow(query('commit'));
    return result;
  };
}

function swallow(result: unknown): void {
  if (result && typeof (result as Promise<unknown>).catch === 'function') (result as Promise<unknown>).catch(() => undefined);
}
