import { DistcacheError, type ErrorCode } from '../errors.js';

/**
 * Errors of the operator API: `DistcacheError`s whose codes (defined with every other code in
 * src/errors.ts) only the Admin API throws, so the CLI and scripts branch on `err.code`, never on
 * the message. A refresher no server publishes is the library's own E_UNKNOWN_REFRESHER.
 */
export type AdminErrorCode = Extract<
  ErrorCode,
  | 'E_UNKNOWN_SERVER'
  | 'E_UNKNOWN_ROW'
  | 'E_NO_CURSOR'
  | 'E_SERVER_ACTIVE'
  | 'E_NO_PUBLISHED_REFRESHERS'
  | 'E_INVALID_ARGUMENT'
  | 'E_UNSUPPORTED'
>;

export class AdminError extends DistcacheError {
  declare readonly code: AdminErrorCode;
  constructor(code: AdminErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'AdminError';
  }
}

export function isAdminError(err: unknown, code?: AdminErrorCode): err is AdminError {
  return err instanceof AdminError && (code === undefined || err.code === code);
}
