import { errors } from '../errors.js';
import type { ExecutorRow } from './executor.js';

/** The id a statement returned, as a number whatever the driver made of it (bigint, string). */
export function idOf(rows: ExecutorRow[]): number {
  const raw = Array.isArray(rows) ? rows[0] : undefined;
  const id = raw === undefined ? undefined : (raw.id ?? Object.values(raw)[0]);
  const n = typeof id === 'bigint' || typeof id === 'string' || typeof id === 'number' ? Number(id) : Number.NaN;
  if (!Number.isSafeInteger(n) || n <= 0) {
    const shown = JSON.stringify(raw, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    throw new errors.WriteFailedError(`the executor returned no usable row id (${shown}); its query() must return the statement's rows`);
  }
  return n;
}

/** A synchronous executor's rows; a promise here is a misuse, refused after its write is left to roll back. */
export function syncRows(result: ExecutorRow[] | Promise<ExecutorRow[]>): ExecutorRow[] {
  if (result instanceof Promise || typeof (result as { then?: unknown }).then === 'function') {
    // The write already ran; the caller's synchronous transaction must still roll it back.
    void Promise.resolve(result).catch(() => undefined);
    throw new errors.InvalidOptionError(
      'a *Sync write needs a synchronous executor (better-sqlite3, Drizzle on better-sqlite3); ' +
        'this one returned a promise: use refresh() and await it',
    );
  }
  return result;
}
