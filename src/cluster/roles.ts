/**
 * What a server does in its cluster.
 * - `single`: the only active server; it runs the once-per-cluster work.
 * - `scheduling-publisher`: one of several active servers, and the one that runs the
 *   once-per-cluster work (the scheduled prune, and whatever the application gates on
 *   `cache.isSchedulingPublisher`).
 * - `subscriber`: applies instructions like every server, but runs no once-per-cluster work.
 * - `unknown`: before the first heartbeat, after `stop()`, or once an elected publisher could
 *   no longer renew its lease and so no longer knows who the publisher is.
 */
export type ServerRole = 'single' | 'scheduling-publisher' | 'subscriber' | 'unknown';

/** The `role` option: `'auto'` takes part in the election; anything else is fixed by the operator. */
export type RoleOption = 'auto' | 'single' | 'scheduling-publisher' | 'subscriber';

export const ROLE_OPTIONS: readonly RoleOption[] = ['auto', 'single', 'scheduling-publisher', 'subscriber'];

/** Whether a role runs the once-per-cluster work. */
export function runsScheduledWork(role: ServerRole): boolean {
  return role === 'single' || role === 'scheduling-publisher';
}
