import { hostname, userInfo } from 'node:os';

/**
 * The `originated` label of rows an operator writes by hand: `<tool>:<user>@<host>`, so `tail`
 * and `show` tell them from a server's rows and say who and where. `Admin.send()` uses
 * `admin:<user>@<host>` unless its caller gives a label; the CLI passes `cli:<user>@<host>`.
 * Capped to the column's 255 characters.
 */
export function operatorOrigin(tool: string): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // Containers often run under a uid with no passwd entry.
    user = process.env.USER ?? process.env.LOGNAME ?? 'unknown';
  }
  return `${tool}:${user || 'unknown'}@${hostname()}`.slice(0, 255);
}
