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
 * fail with 25006. A statement outside a transaction runs as `begin read only`, the statement,
 * `commit`, each sent once the one before has answered (pg refuses to queue them); a failed
 * statement's `commit` ends in a rollback. A transaction the caller opens itself is made read-only.
 */
export function readOnlyTransactions(connection: PgQueryable): void {
  const query = connection.query.bind(connection) as (config: unknown, ...rest: unknown[]) => unknown;
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
    // A streamed query (a pg Submittable) reports through its own events; none is used here.
    if (typeof (config as { submit?: unknown })?.submit === 'function') throw new Error('read-only CLI connections do not run streamed queries');
    const callback = typeof rest[rest.length - 1] === 'function' ? (rest.pop() as (err: Error | null, result?: unknown) => void) : undefined;
    const run = () =>
      new Promise<unknown>((resolve, reject) => {
        query('begin read only', (beginError: Error | null) => {
          if (beginError) return reject(beginError);
          query(config, ...rest, (err: Error | null, result: unknown) => {
            // After a failed statement PostgreSQL answers this commit with a rollback.
            query('commit', () => (err ? reject(err) : resolve(result)));
          });
        });
      });
    if (callback) {
      run().then((result) => callback(null, result), (err: Error) => callback(err));
      return undefined;
    }
    return run();
  };
}
