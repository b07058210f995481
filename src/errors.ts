import { redact } from './util/redact.js';

/**
 * Typed errors. Every error distcache throws is a `DistcacheError` with a stable `code`,
 * so callers can branch on `err.code` instead of parsing messages.
 */
export type ErrorCode =
  | 'E_INVALID_OPTION'
  | 'E_DUPLICATE_REFRESHER'
  | 'E_UNKNOWN_REFRESHER'
  | 'E_UNSUPPORTED_KIND'
  | 'E_INVALID_INSTRUCTION'
  | 'E_MALFORMED_ROW'
  | 'E_WRITE_FAILED'
  | 'E_QUERY_TIMEOUT'
  | 'E_REFRESHER_TIMEOUT'
  | 'E_UNSUPPORTED_DIALECT'
  | 'E_REGISTER_AFTER_START'
  | 'E_MIGRATION_FAILED'
  | 'E_NOT_MIGRATED'
  | 'E_STOPPED'
  /** A refresher refused a payload (see distcache/refreshers' withPayloadSchema): recorded, never retried. */
  | 'E_REJECTED_PAYLOAD'
  | 'E_DUPLICATE_IDENTITY'
  /** No connection: nothing listens at that host and port (or the name does not resolve). */
  | 'E_CONNECTION_REFUSED'
  /** The server answered, but the database named in the connection settings does not exist. */
  | 'E_UNKNOWN_DATABASE'
  /** The server refused the user name or password. */
  | 'E_AUTHENTICATION_FAILED'
  /** The primary `knex` reaches a server in recovery (a standby) or a read-only session: writes and cursors cannot go there. */
  | 'E_PRIMARY_IS_STANDBY'
  /** `replicas` given for a database that has none (SQLite). */
  | 'E_REPLICAS_UNSUPPORTED'
  /**
   * A MySQL/MariaDB replica whose replication settings cannot keep the primary's commit order
   * (out-of-order parallel replication), so reading it could skip rows; the message names the fix.
   */
  | 'E_REPLICA_NOT_EXACT'
  /** A region's load ran past its `hardTimeout` and was given up (its signal aborted); no graced entry to serve. */
  | 'E_LOAD_TIMEOUT'
  /** A `@Cacheable`/`@CacheEvict` method (distcache/nestjs) ran on an instance no DistcacheModule bound at init. */
  | 'E_UNBOUND_DECORATOR'
  /** `waitFor()` was given a text that is not a position token of this cluster (malformed, too long, or another cluster's). */
  | 'E_INVALID_POSITION'
  // The operator API (src/admin/, thrown as AdminError):
  /** No registration and no cursor under that identity in this cluster. */
  | 'E_UNKNOWN_SERVER'
  /** No row with that id in this cluster (never written, or pruned). */
  | 'E_UNKNOWN_ROW'
  /** `resync` of a server that has no cursor yet: there is nothing to flag. */
  | 'E_NO_CURSOR'
  /** `forgetServer` of a server that is still heartbeating. */
  | 'E_SERVER_ACTIVE'
  /** `send` while no registered server has published its refresher ids. */
  | 'E_NO_PUBLISHED_REFRESHERS'
  /** A bad argument to an Admin method (ids, payloads, limits). */
  | 'E_INVALID_ARGUMENT'
  /** The operation cannot be done on this database (a dry run of MySQL's DDL). */
  | 'E_UNSUPPORTED'
  // The CLI (src/cli/failure.ts):
  /** The command line itself is wrong (exit 2). */
  | 'E_USAGE'
  /** The database could not be reached at all: the first statement of the run failed. */
  | 'E_CONNECTION_FAILED';

export class DistcacheError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DistcacheError';
    this.code = code;
  }
}

function define(code: ErrorCode, name: string) {
  const Cls = class extends DistcacheError {
    static readonly code = code;
    constructor(message: string, options?: { cause?: unknown }) {
      super(code, message, options);
      this.name = name;
    }
  };
  Object.defineProperty(Cls, 'name', { value: name });
  return Cls;
}

/** One class per code; `errors.InvalidOptionError` etc. `instanceof` works on each. */
export const errors = {
  InvalidOptionError: define('E_INVALID_OPTION', 'InvalidOptionError'),
  DuplicateRefresherError: define('E_DUPLICATE_REFRESHER', 'DuplicateRefresherError'),
  UnknownRefresherError: define('E_UNKNOWN_REFRESHER', 'UnknownRefresherError'),
  UnsupportedKindError: define('E_UNSUPPORTED_KIND', 'UnsupportedKindError'),
  InvalidInstructionError: define('E_INVALID_INSTRUCTION', 'InvalidInstructionError'),
  MalformedRowError: define('E_MALFORMED_ROW', 'MalformedRowError'),
  WriteFailedError: define('E_WRITE_FAILED', 'WriteFailedError'),
  QueryTimeoutError: define('E_QUERY_TIMEOUT', 'QueryTimeoutError'),
  RefresherTimeoutError: define('E_REFRESHER_TIMEOUT', 'RefresherTimeoutError'),
  UnsupportedDialectError: define('E_UNSUPPORTED_DIALECT', 'UnsupportedDialectError'),
  RegisterAfterStartError: define('E_REGISTER_AFTER_START', 'RegisterAfterStartError'),
  MigrationFailedError: define('E_MIGRATION_FAILED', 'MigrationFailedError'),
  NotMigratedError: define('E_NOT_MIGRATED', 'NotMigratedError'),
  StoppedError: define('E_STOPPED', 'StoppedError'),
  LoadTimeoutError: define('E_LOAD_TIMEOUT', 'LoadTimeoutError'),
  UnboundDecoratorError: define('E_UNBOUND_DECORATOR', 'UnboundDecoratorError'),
  InvalidPositionError: define('E_INVALID_POSITION', 'InvalidPositionError'),
  DuplicateIdentityError: define('E_DUPLICATE_IDENTITY', 'DuplicateIdentityError'),
  ConnectionRefusedError: define('E_CONNECTION_REFUSED', 'ConnectionRefusedError'),
  UnknownDatabaseError: define('E_UNKNOWN_DATABASE', 'UnknownDatabaseError'),
  AuthenticationFailedError: define('E_AUTHENTICATION_FAILED', 'AuthenticationFailedError'),
  PrimaryIsStandbyError: define('E_PRIMARY_IS_STANDBY', 'PrimaryIsStandbyError'),
  ReplicasUnsupportedError: define('E_REPLICAS_UNSUPPORTED', 'ReplicasUnsupportedError'),
  ReplicaNotExactError: define('E_REPLICA_NOT_EXACT', 'ReplicaNotExactError'),
} as const;

export function isDistcacheError(err: unknown, code?: ErrorCode): err is DistcacheError {
  return err instanceof DistcacheError && (code === undefined || err.code === code);
}

/**
 * A message safe to log and to show in health() and cache_server.last_error: never includes
 * connection strings (see `redact`), nor the statement knex prepends to a driver's error with its
 * bindings inlined (a failed write's payload, a card number in the report): only the driver's own message.
 */
export function describeError(err: unknown): string {
  if (err instanceof Error) return redact(driverMessage(err) ?? err.message);
  return redact(String(err));
}

/**
 * The database's own message of a driver error that went through knex, which rewrites `message` to
 * `<statement with bindings> - <message>`. mysql2 keeps the original (`sqlMessage`); for pg and
 * SQLite errors the text after the last ' - ' is always the original's end, never the statement.
 */
function driverMessage(err: Error): string | undefined {
  const e = err as Error & { sqlMessage?: unknown; severity?: unknown; code?: unknown };
  if (typeof e.sqlMessage === 'string') return e.sqlMessage;
  const fromDriver = typeof e.severity === 'string' || (typeof e.code === 'string' && e.code.startsWith('SQLITE_'));
  if (!fromDriver) return undefined;
  const cut = err.message.lastIndexOf(' - ');
  return cut < 0 ? err.message : err.message.slice(cut + 3);
}

export { redact };

/**
 * A database error as the typed error callers branch on: a knex query timeout becomes
 * E_QUERY_TIMEOUT, a missing table E_NOT_MIGRATED (with the command that fixes it); anything
 * else passes through.
 */
export function fromDatabaseError(err: unknown): Error {
  const e = err as { name?: string; message?: string };
  if (e?.name === 'KnexTimeoutError')
    return new errors.QueryTimeoutError(`a database query timed out (queryTimeout): ${describeError(err)}`, { cause: err });
  const connection = connectionError(err);
  if (connection) return connection;
  if (/no such table|doesn't exist|does not exist|undefined table|has no column named|unknown column/i.test(String(e?.message))) {
    // The driver's words only: knex puts the whole statement in front of them.
    return new errors.NotMigratedError(
      `distcache's tables are missing (${redact(lastPart(String(e?.message)))}): run migrate first, ` +
        '`await migrate(knex, { tablePrefix })` at start-up or `npx distcache migrate`',
      { cause: err },
    );
  }
  // 25006 read_only_sql_transaction: what a standby (or default_transaction_read_only) answers a write.
  if ((err as { code?: unknown })?.code === '25006')
    return new errors.PrimaryIsStandbyError(standbyMessage(describeError(err)), { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * The three mistakes of a first hour with a new database, each told apart from "the tables are
 * missing" and from a permission problem, with its own code and fix (issue 24). Recognised by the
 * drivers' own codes, never by message text alone.
 */
const REFUSED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);
// PostgreSQL SQLSTATEs: 3D000 invalid_catalog_name; 28P01 invalid_password, 28000 invalid_authorization_specification.
const UNKNOWN_DATABASE = new Set(['3D000', 'ER_BAD_DB_ERROR']);
const AUTHENTICATION = new Set([
  '28P01',
  '28000',
  'ER_ACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_ACCESS_DENIED_NO_PASSWORD_ERROR',
]);

/** The typed error for a connection that could not be made, or undefined when `err` is something else. */
export function connectionError(err: unknown): DistcacheError | undefined {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const said = redact(lastPart(String(e?.message ?? err)));
  if (REFUSED.has(code)) {
    return new errors.ConnectionRefusedError(
      `cannot reach the database (${said}): check the host and port of the connection settings, and that the database ` +
        'server is running and accepts TCP connections there',
      { cause: err },
    );
  }
  if (UNKNOWN_DATABASE.has(code)) {
    return new errors.UnknownDatabaseError(
      `the database server is reachable but the database does not exist (${said}): fix the database name in the ` +
        'connection settings, or create it (createdb NAME, or CREATE DATABASE NAME)',
      { cause: err },
    );
  }
  if (AUTHENTICATION.has(code)) {
    return new errors.AuthenticationFailedError(
      `the database refused the login (${said}): check the user name and password of the connection settings ` +
        "(on PostgreSQL also pg_hba.conf; on MySQL the user's allowed hosts)",
      { cause: err },
    );
  }
  return undefined;
}

/** knex prefixes a failed query's message with its SQL (`select … - relation "x" does not exist`): the driver's part. */
export function lastPart(message: string): string {
  const parts = message.split(' - ');
  return parts[parts.length - 1]!.trim();
}

/** Why a write was refused as on a standby, with the likely causes; for E_PRIMARY_IS_STANDBY. */
export function standbyMessage(detail: string): string {
  return (
    `the knex option reaches a PostgreSQL server in recovery (a standby) or a read-only session (${detail}). ` +
    'Likely causes: a replica or reader-endpoint URL given as knex, or a read-routing proxy (pgpool, pgcat, a cloud reader ' +
    'endpoint) sending statements to a standby. distcache writes its log, cursors and heartbeats there: give knex the ' +
    "primary's address, and pass standbys in the replicas option"
  );
}
