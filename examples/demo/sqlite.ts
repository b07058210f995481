import type { Knex } from 'knex';

/**
 * Knex settings for a SQLite file shared by several processes: WAL lets readers run while one
 * process writes, and busy_timeout makes a writer wait its turn instead of failing at once.
 */
export function sqliteFileConfig(filename: string): Knex.Config {
  return {
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    pool: {
      afterCreate(conn: { pragma(s: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        conn.pragma('journal_mode = WAL');
        conn.pragma('busy_timeout = 5000');
        done(null, conn);
      },
    },
  };
}
