import { errors } from './errors.js';

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

/**
 * The one check of a table prefix, for the cache's options, `migrate()`, `Admin` and the CLI.
 * `from` names where the value came from (`--prefix`, an environment variable) when that helps.
 */
export function validateTablePrefix(prefix: unknown, from?: string): string {
  if (typeof prefix === 'string' && isValidTablePrefix(prefix)) return prefix;
  throw new errors.InvalidOptionError(
    `tablePrefix: ${JSON.stringify(prefix)}${from ? ` (from ${from})` : ''} is not valid; use lower-case letters, digits and ` +
      `underscores, starting with a letter, at most 32 characters (for example 'cache_')`,
  );
}

/** The one check of a cluster name, for the cache's options, `Admin` and the CLI. */
export function validateCluster(cluster: unknown, from?: string): string {
  if (typeof cluster === 'string' && CLUSTER_PATTERN.test(cluster)) return cluster;
  throw new errors.InvalidOptionError(
    `cluster: ${JSON.stringify(cluster)}${from ? ` (from ${from})` : ''} is not valid; use letters, digits and . _ - (no ` +
      `spaces, quotes or semicolons), at most 64 characters, such as 'production'`,
  );
}
