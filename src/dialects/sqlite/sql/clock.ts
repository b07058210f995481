/**
 * The database clock on SQLite: ISO 8601 text in UTC with milliseconds, the form the timestamp
 * columns store (their default is this expression), so text comparison orders them as times.
 */
export const SQLITE_NOW = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;

/** "Now minus an interval", in the same form. Params: `?` a modifier: '-<seconds, 3 decimals> seconds'. */
export const SQLITE_CUTOFF = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?)`;
