/**
 * Names that end up in SQL (table prefix) or in rows (cluster, server identity) are checked
 * against strict patterns before any query is sent, so quotes, semicolons or SQL in them are
 * refused rather than escaped.
 */

/** Lower-case so PostgreSQL never needs quoting games; 32 chars keeps every table name within 63. */
export const TABLE_PREFIX_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;
export const CLUSTER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const SERVER_IDENTITY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$/;
export const REFRESHER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

export function isValidTablePrefix(prefix: string): boolean {
  return prefix === '' || TABLE_PREFIX_PATTERN.test(prefix);
}
