/**
 * The defaults of the operator API's calls, declared once: `Admin` applies them, and the CLI's
 * flags (`--limit`, `--interval`, `--minutes`) default to them and print them in their help.
 */
export const ADMIN_DEFAULTS = Object.freeze({
  /** Rows listed by `pending(server)`. */
  pendingLimit: 50,
  /** Failure records listed by `failures()`. */
  failuresLimit: 50,
  /** The newest rows shown by `tail()` and first by `follow()`. */
  tailLimit: 20,
  /** How often `follow()` looks for new rows, in milliseconds. */
  followInterval: 1000,
  /** The minutes `activity()` covers. */
  activityMinutes: 60,
  /** The row bodies one `tail()`, `show()` or first read of `follow()` may bring, in bytes (32 MiB). */
  maxReadBytes: 32 * 1024 * 1024,
});
