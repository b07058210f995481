import { MAX_PAGE_BYTES, MAX_ROW_BYTES } from '../util/limits.js';

/**
 * How a page is bounded in bytes as well as in rows. A row over `maxRowBytes` is read without its
 * body (its size alone), so no value the database holds can make a driver build a string larger
 * than the process can hold; a page stops before the row that would take its bodies past
 * `maxPageBytes` (its first row is always read, so a page always makes progress).
 */
export interface PageBytes {
  readonly maxRowBytes: number;
  readonly maxPageBytes: number;
}

/** SQL for the size in bytes of a text value (`quoted`, an SQL expression): a dialect's own way. */
export type ByteLengthSql = (quoted: string) => string;

/** PostgreSQL's and MySQL's: octet_length reads a large value's size without its text. SQLite has its own (sqlite/store.ts). */
export const octetLength: ByteLengthSql = (quoted) => `octet_length(${quoted})`;

/**
 * The body of a row only up to `maxRowBytes`, and its size, so no dialect sends the text of a row
 * over the bound. `quoted` is the column's quoted name; `byteLength` the dialect's size in bytes.
 */
export function bodyColumns(quoted: string, maxRowBytes: number, byteLength: ByteLengthSql = octetLength): string[] {
  const bytes = byteLength(quoted);
  return [`case when ${bytes} <= ${Math.trunc(maxRowBytes)} then ${quoted} end as json_instruction`, `${bytes} as json_bytes`];
}

export const DEFAULT_PAGE_BYTES: PageBytes = Object.freeze({ maxRowBytes: MAX_ROW_BYTES, maxPageBytes: MAX_PAGE_BYTES });

/** A stored row's body was left unread: it is over `maxRowBytes` (true), or the page's byte budget ran out before it (false). */
export function isOversize(raw: Record<string, unknown>, bytes: PageBytes): boolean {
  return raw.json_instruction == null && Number(raw.json_bytes) > bytes.maxRowBytes;
}

/**
 * How many of a page's raw rows (in page order, rows only) it keeps: it stops before the row whose
 * body would take the page's bodies past `maxPageBytes`, the first body always kept. PostgreSQL's
 * page statement applies the same rule to leave those bodies unsent (sql/page.ts); MySQL's and
 * SQLite's send only bodies up to maxPageBytes / pageSize and fetch a larger one once the page
 * keeps it (commit-ordered-store.ts), so no page brings much more than maxPageBytes either way.
 */
export function withinBudget(raws: ReadonlyArray<Record<string, unknown>>, bytes: PageBytes): number {
  let total = 0;
  for (let i = 0; i < raws.length; i++) {
    const raw = raws[i]!;
    if (isOversize(raw, bytes)) continue;
    const size = Number(raw.json_bytes);
    total += size;
    if (total > bytes.maxPageBytes && total !== size) return i;
  }
  return raws.length;
}
