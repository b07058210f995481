import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';
import { findServer } from './servers.js';

export interface ResyncResult {
  server: string;
  /** The flag was set already (a prune passed it, or an earlier resync); setting it again is harmless. */
  alreadyRequested: boolean;
  /** Whether it is heartbeating; an inactive server cold-boots when it next starts. */
  active: boolean;
}

/**
 * Flags one server's cursor so it cold-boots at its next poll: the store's `requestColdBoot`,
 * the same flag a prune sets. No access to that server's files or process is needed.
 */
export async function resync(ctx: AdminContext, identity: string): Promise<ResyncResult> {
  const { server } = await findServer(ctx, identity, { pending: false });
  const noCursor = () =>
    new AdminError(
      'E_NO_CURSOR',
      `server '${identity}' has no cursor yet, so there is nothing to flag: at its first poll it cold-boots anyway (or, with an ` +
        `empty log, starts at the head)`,
    );
  if (!server.cursor) throw noCursor();
  if (!(await ctx.store.requestColdBoot(identity))) throw noCursor();
  return { server: identity, alreadyRequested: server.cursor.coldBootRequested, active: server.active };
}

export interface ResyncAllResult {
  all: true;
  /** Cursors flagged; a server without a cursor cold-boots at its first poll anyway. */
  flagged: number;
  /** The servers whose cursors were flagged. */
  servers: string[];
}

/**
 * Flags every cursor of the cluster, so every server cold-boots at its next poll: for what no
 * check can prove (an older backup restored with its cursors copied forward, see
 * docs/operations.md). The flag lives in the database the servers read, so run it on the restored one.
 */
export async function resyncAll(ctx: AdminContext): Promise<ResyncAllResult> {
  const flagged = await ctx.store.requestColdBootAll();
  const servers = (await ctx.store.listCursors()).filter((c) => c.coldBootRequested).map((c) => c.identity);
  return { all: true, flagged, servers };
}
