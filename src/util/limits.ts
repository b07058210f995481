/**
 * The ceiling of one row's JSON text, in bytes. Migration 007 writes the same number into the
 * table's CHECK, so no writer (plain SQL included) can store a larger row, and readers never
 * fetch one larger than their `maxRowBytes`: a 560-million-character row made `pg` throw inside
 * its socket handler, outside any catch, on every server at once (issue 22).
 */
export const MAX_ROW_BYTES = 16 * 1024 * 1024;

/** The default bound of one page's bodies: two of the largest rows, so a catch-up's memory stays bounded whatever the log holds. */
export const MAX_PAGE_BYTES = 2 * MAX_ROW_BYTES;
