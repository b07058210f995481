import { DistcacheError } from '../errors.js';
import { AdminError } from '../admin/errors.js';

/** The command line itself is wrong: exit 2, with what to type. */
export class UsageError extends DistcacheError {
  constructor(
    message: string,
    /** The command whose --help to point at. */
    readonly command?: string,
  ) {
    super('E_USAGE', message);
    this.name = 'UsageError';
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The database could not be reached at all: the first statement of the run failed. */
export class ConnectionError extends DistcacheError {
  constructor(
    options: { cause: unknown },
    /** The attempt lasted as long as --timeout allowed: whatever the driver said, nothing answered in time. */
    readonly timedOutAfterMs?: number,
  ) {
    super('E_CONNECTION_FAILED', 'cannot connect', options);
    this.name = 'ConnectionError';
  }
}

/** How to describe the connection in an error: masked, and where it came from. */
export interface ConnectionLabel {
  display: string;
  source: string;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'EPIPE',
  'SQLITE_CANTOPEN',
  'SQLITE_NOTADB',
  // PostgreSQL: bad password, no such role or auth method, no such database.
  '28P01',
  '28000',
  '3D000',
  'ER_ACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
]);

/** The code of an error or of anything in its cause chain (knex and AggregateError wrap the driver's). */
function codes(err: unknown): string[] {
  const found: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const e = current as { code?: unknown; errors?: unknown[]; cause?: unknown; name?: unknown; message?: unknown };
    if (typeof e.code === 'string') found.push(e.code);
    if (e.name === 'KnexTimeoutError' && /acquir/i.test(String(e.message))) found.push('ACQUIRE_TIMEOUT');
    if (Array.isArray(e.errors)) for (const inner of e.errors) found.push(...codes(inner));
    current = e.cause;
  }
  return found;
}

function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(messageOf).join('; ');
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** knex prefixes the driver's message with the whole statement; the statement is noise to an operator. */
function driverMessage(err: unknown): string {
  const text = messageOf(err);
  const cut = text.lastIndexOf(' - ');
  return cut >= 0 ? text.slice(cut + 3) : text;
}

/** The exit code and the message for an error a command ended with. */
export function describeFailure(err: unknown, connection: ConnectionLabel | undefined): { exitCode: number; message: string } {
  if (err instanceof UsageError) {
    const help = err.command ? `distcache ${err.command} --help` : 'distcache --help';
    return { exitCode: EXIT_USAGE, message: `distcache: ${err.message}\nRun \`${help}\` for usage.` };
  }
  if (err instanceof AdminError && err.code === 'E_INVALID_ARGUMENT') return { exitCode: EXIT_USAGE, message: `distcache: ${err.message}` };
  if (err instanceof DistcacheError && err.code === 'E_INVALID_OPTION')
    return { exitCode: EXIT_USAGE, message: `distcache: ${err.message}` };
  const where = connection ? `${connection.display} (from ${connection.source})` : 'the database';
  const connecting = err instanceof ConnectionError;
  const cause = connecting ? err.cause : err;
  const found = codes(cause);
  if (connecting || found.some((c) => CONNECTION_CODES.has(c) || c === 'ACQUIRE_TIMEOUT')) {
    const timedOut = connecting && err.timedOutAfterMs !== undefined;
    const reason =
      found.includes('ACQUIRE_TIMEOUT') || timedOut
        ? `no answer ` +
          `within ${connecting && err.timedOutAfterMs !== undefined ? `${err.timedOutAfterMs / 1000} s` : 'the timeout'} ` +
          `(--timeout; the driver said: ${messageOf(cause)})`
        : messageOf(cause);
    const auth = found.some((c) => ['28P01', '28000', 'ER_ACCESS_DENIED_ERROR'].includes(c));
    const check = auth
      ? 'the user name and password'
      : found.includes('SQLITE_CANTOPEN') || found.includes('SQLITE_NOTADB')
        ? 'the file path, and that it is a SQLite database; `distcache migrate` creates a new one'
        : 'that the database server is running and reachable from this machine (host, port, firewall), and that the database exists';
    return {
      exitCode: EXIT_FAILED,
      message:
        `distcache: cannot use ${where}: ${reason}.\nCheck: ${check}. The connection comes from --db, else ` +
        `DISTCACHE_DATABASE_URL, else DATABASE_URL, else ./knexfile.js, else ./distcache.sqlite.`,
    };
  }
  if (err instanceof DistcacheError && err.code === 'E_NOT_MIGRATED') {
    return {
      exitCode: EXIT_FAILED,
      message:
        `distcache: distcache's tables are missing in ${where}: ${driverMessage(err.cause ?? err)}.\nCheck: --prefix matches the ` +
        `servers' tablePrefix, or run \`distcache migrate\` with the same --db and --prefix.`,
    };
  }
  if (/no such column|unknown column|column .* does not exist/i.test(messageOf(err))) {
    return {
      exitCode: EXIT_FAILED,
      message:
        `distcache: the schema in ${where} is older than this distcache: ${driverMessage(err)}.\nRun \`distcache migrate\` with ` +
        `the same --db and --prefix.`,
    };
  }
  if (err instanceof DistcacheError) return { exitCode: EXIT_FAILED, message: `distcache: ${err.message}` };
  return { exitCode: EXIT_FAILED, message: `distcache: ${messageOf(err)}` };
}
