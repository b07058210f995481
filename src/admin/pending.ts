import { pendingWithin } from './bounded-rows.js';
import type { AdminContext } from './context.js';
import { rowView, type RowView } from './rows.js';
import { findServer, listServers } from './servers.js';

/** One server's backlog, in `pending` without `--server`. */
export interface PendingCount {
  identity: string;
  registered: boolean;
  active: boolean;
  /** null: no cursor yet (it cold-boots, or starts at the head, at its first poll). */
  pendingRows: number | null;
  pendingInstructions: number | null;
  lagSeconds: number | null;
  /** It cold-boots at its next poll instead of applying these. */
  coldBootRequested: boolean | null;
}

export interface PendingOverview {
  cluster: string;
  servers: PendingCount[];
}

/** A pending row, and whether the server already applied it when it wrote it (its own poller skips it). */
export interface PendingRowView extends RowView {
  appliedAtWrite: boolean;
}

export interface ServerPending {
  cluster: string;
  server: string;
  /** The server's stored cursor; null when it has none. */
  position: string | null;
  coldBootRequested: boolean | null;
  pendingRows: number | null;
  pendingInstructions: number | null;
  lagSeconds: number | null;
  limit: number;
  /** More rows are pending than are listed (past `limit`, or left out by `maxBytes`). */
  truncated: boolean;
  /** Rows within `limit` left out because the earlier ones' bodies filled `maxBytes`. */
  leftOut: number;
  /** In the order the server applies them. */
  rows: PendingRowView[];
}

export async function pendingOverview(ctx: AdminContext): Promise<PendingOverview> {
  const { servers } = await listServers(ctx);
  return {
    cluster: ctx.cluster,
    servers: servers.map((s) => ({
      identity: s.identity,
      registered: s.registered,
      active: s.active,
      pendingRows: s.pendingRows,
      pendingInstructions: s.pendingInstructions,
      lagSeconds: s.lagSeconds,
      coldBootRequested: s.cursor?.coldBootRequested ?? null,
    })),
  };
}

/**
 * What one server has not applied yet, decoded, through the same store call its poller's
 * pending count uses: rows its stored cursor does not cover, in the order it applies them.
 * The cursor is stored after rows are applied, so this may list a page the server is applying
 * right now; it never omits a row the server has yet to apply.
 */
export async function pendingForServer(ctx: AdminContext, identity: string, limit: number, maxBytes: number): Promise<ServerPending> {
  const { server } = await findServer(ctx, identity);
  const base = {
    cluster: ctx.cluster,
    server: identity,
    position: server.cursor?.position ?? null,
    coldBootRequested: server.cursor?.coldBootRequested ?? null,
    pendingRows: server.pendingRows,
    pendingInstructions: server.pendingInstructions,
    lagSeconds: server.lagSeconds,
    limit,
  };
  if (!server.cursor) return { ...base, truncated: false, leftOut: 0, rows: [] };
  const { rows, leftOut } = await pendingWithin(ctx, server.cursor.position, limit, maxBytes);
  return {
    ...base,
    truncated: (server.pendingRows ?? 0) > rows.length,
    leftOut,
    rows: rows.map((row) => ({ ...rowView(row), appliedAtWrite: row.originInstance !== null && row.originInstance === server.instanceId })),
  };
}
