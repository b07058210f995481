import { maskUrl } from './util/redact.js';
import type { Knex } from 'knex';
import { errors } from './errors.js';

/**
 * Turns a connection string into a knex config, for the CLI and for scripts:
 * - `postgres://user:pass@host:5432/db` (or `postgresql://`) uses `pg`;
 * - `mysql://user:pass@host:3306/db` (or `mariadb://`) uses `mysql2`;
 * - `sqlite:///abs/path.sqlite`, `sqlite://./rel.sqlite` or a bare path ending in .sqlite/.db uses
 *   `better-sqlite3` in WAL mode with a busy timeout, so several processes can share the file.
 */
export function knexConfigFromUrl(url: string): Knex.Config {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') return { client: 'pg', connection: url, pool: { min: 0, max: 10 } };
  if (scheme === 'mysql' || scheme === 'mariadb') {
    const parsed = new URL(url.replace(/^mariadb:/i, 'mysql:'));
    // The session and the driver both in UTC, so TIMESTAMP columns read back as exact instants.
    if (!parsed.searchParams.has('timezone')) parsed.searchParams.set('timezone', 'Z');
    return { client: 'mysql2', connection: parsed.toString(), pool: { min: 0, max: 10 } };
  }
  if (scheme === 'sqlite' || scheme === 'file' || (scheme === undefined && /\.(sqlite3?|db)$/i.test(url)) || /^[a-z]:[\\/]/i.test(url)) {
    const filename =
      scheme === undefined || /^[a-z]:[\\/]/i.test(url) ? url : decodeURIComponent(url.replace(/^(sqlite|file):(\/\/)?/i, ''));
    return sqliteConfig(filename || ':memory:');
  }
  throw new errors.InvalidOptionError(
    `connection string ${maskUrl(url)} is not one distcache understands; use postgres://…, mysql://… (or mariadb://…), or ` +
      `sqlite://path/to/file.sqlite`,
  );
}

/** A SQLite config fit for several processes sharing one file. */
export function sqliteConfig(filename: string, busyTimeoutMs = 5000): Knex.Config {
  return {
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    pool: {
      afterCreate(conn: { pragma(s: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        conn.pragma('journal_mode = WAL');
        conn.pragma(`busy_timeout = ${busyTimeoutMs}`);
        done(null, conn);
      },
    },
  };
}

/** The connection string with any password replaced by ***, safe for logs and output (see redact.ts). */
export { maskUrl };
