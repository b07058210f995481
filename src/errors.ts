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
  /** A region's load ran past its `hardTimeout` and was given up (its signal aborted); no graced entry to serve. */
  | 'E_LOAD_TIMEOUT'
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
  DuplicateIdentityError: define('E_DUPLICATE_IDENTITY', 'DuplicateIdentityError'),
} as const;

export function isDistcacheError(err: unknown, code?: ErrorCode): err is DistcacheError {
  return err instanceof DistcacheError && (code === undefined || err.code === code);
}

/** A message safe to log: never includes connection strings (see `redact`). */
export function describeError(err: unknown): string {
  if (err instanceof Error) return redact(err.message);
  return redact(String(err));
}

/** Masks the password part of any URL-looking connection string in a text. */
export function redact(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)([^@\s]*)@/gi, '$1***@').replace(/([?&](password|pass|pwd)=)[^&\s]*/gi, '$1***');
}

/**
 * A database error as the typed error callers branch on: a knex query timeout becomes
 * E_QUERY_TIMEOUT, a missing table E_NOT_MIGRATED (with the command that fixes it); anything
 * else passes through.
 */
export function fromDatabaseError(err: unknown): Error {
  const e = err as { name?: string; message?: string };
  if (e?.name === 'KnexTimeoutError')
    return new errors.QueryTimeoutError(`a database query timed out (queryTimeout): ${describeError(err)}`, { cause: err });
  if (/no such table|doesn't exist|does not exist|undefined table|has no column named|unknown column/i.test(String(e?.message))) {
    return new errors.NotMigratedError(
      `distcache tables are missing: ${describeError(err)}; run \`await migrate(knex, { tablePrefix })\` or \`npx distcache ` +
        `migrate\` first`,
      { cause: err },
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}
