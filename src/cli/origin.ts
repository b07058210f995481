import { hostname, userInfo } from 'node:os';

/**
 * The `originated` label of rows written by an operator: `cli:<user>@<host>`, so `tail` and
 * `show` tell hand-written instructions from a server's. Capped to the column's 255 characters.
 */
export function cliOrigin(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // Containers often run under a uid with no passwd entry.
    user = process.env.USER ?? process.env.LOGNAME ?? 'unknown';
  }
  return `cli:${user || 'unknown'}@${hostname()}`.slice(0, 255);
}
