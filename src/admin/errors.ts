/**
 * Errors of the operator API. Each has a stable code, like the library's own errors, so the CLI
 * (and scripts using `Admin`) branch on `err.code`, never on the message.
 *
 * They are not `DistcacheError`s because `ErrorCode` is a closed union owned by src/errors.ts;
 * folding these codes into it is a one-line change per code there.
 */
export type AdminErrorCode =
  /** No registration and no cursor under that identity in this cluster. */
  | 'E_UNKNOWN_SERVER'
  /** No row with that id in this cluster (never written, or pruned). */
  | 'E_UNKNOWN_ROW'
  /** `resync` of a server that has no cursor yet: there is nothing to flag. */
  | 'E_NO_CURSOR'
  /** `forgetServer` of a server that is still heartbeating. */
  | 'E_SERVER_ACTIVE'
  /** `send` to a refresher no registered server publishes. */
  | 'E_UNKNOWN_REFRESHER'
  /** `send` while no registered server has published its refresher ids. */
  | 'E_NO_PUBLISHED_REFRESHERS'
  /** A bad argument to an Admin method (ids, payloads, limits). */
  | 'E_INVALID_ARGUMENT'
  /** The operation cannot be done on this database (a dry run of MySQL's DDL). */
  | 'E_UNSUPPORTED';

export class AdminError extends Error {
  readonly code: AdminErrorCode;
  constructor(code: AdminErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AdminError';
    this.code = code;
  }
}

export function isAdminError(err: unknown, code?: AdminErrorCode): err is AdminError {
  return err instanceof AdminError && (code === undefined || err.code === code);
}
