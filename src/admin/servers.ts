import { ServerTable } from '../cluster/server-table.js';
import type { ServerRole } from '../cluster/roles.js';
import { SERVER_IDENTITY_PATTERN } from '../identifiers.js';
import type { CursorState } from '../store/store.js';
import { iso, secondsBetween, type AdminContext } from './context.js';
import { AdminError } from './errors.js';
import { readPublisher, type PublisherView } from './lease.js';
import type { WakeUpState } from '../cluster/health.js';
import type { PublishedRegion } from '../cluster/published-regions.js';

export type { PublishedRegion, WakeUpState };

/** One server of the cluster, as `status` and `servers` show it. Times are ISO-8601 by the database clock. */
export interface ServerView {
  identity: string;
  /** False for a cursor without a registration row (a server that predates the cluster tables, or whose row was deleted). */
  registered: boolean;
  host: string | null;
  pid: number | null;
  packageVersion: string | null;
  instanceId: string | null;
  /** The role it last reported; 'stopped' after a clean stop(); null when not registered. */
  role: ServerRole | 'stopped' | null;
  active: boolean;
  /** Holds the scheduling-publisher lease now. */
  publisher: boolean;
  registeredAt: string | null;
  lastHeartbeat: string | null;
  heartbeatAgeSeconds: number | null;
  /** The refresher ids it published (migration 003); null when it published none. */
  refreshers: string[] | null;
  /** The cache regions it published with its last heartbeat, with their figures (migration 006); null when none. */
  regions: PublishedRegion[] | null;
  /** The wake-up state it published with its last heartbeat (migration 010); null when none (an older server or schema). */
  wakeUp: WakeUpState | null;
  cursor: CursorView | null;
  /** Rows committed that its cursor does not cover; null without a cursor. */
  pendingRows: number | null;
  pendingInstructions: number | null;
  /** Age of the oldest row it has not applied, by the database clock; 0 when none; null without a cursor. */
  lagSeconds: number | null;
  lastError: string | null;
}

export interface CursorView {
  /** Opaque: a row id (SQLite), a sequence number (MySQL) or a pg_snapshot (PostgreSQL). */
  position: string;
  lastSynced: string | null;
  /** It cold-boots at its next poll (a prune passed it, or `resync`). */
  coldBootRequested: boolean;
  /** The database (PostgreSQL: system identifier:timeline) its position was read from; null when not recorded. */
  databaseIdentity: string | null;
}

export interface ClusterServers {
  now: Date;
  publisher: PublisherView | null;
  servers: ServerView[];
  /** Servers that stopped cleanly, left out of `servers` unless `all` was asked for. */
  hiddenStopped: number;
}

/** Every server of the cluster: registrations, cursors, the lease, and how far behind each is. Read-only. */
export async function listServers(ctx: AdminContext, options: { pending?: boolean; all?: boolean } = {}): Promise<ClusterServers> {
  const [now, publisher, cursors] = await Promise.all([ctx.store.now(), readPublisher(ctx.sql), ctx.store.listCursors()]);
  // The rows are read whole, with what each server published (refreshers, regions, wake-up).
  const registrations = await new ServerTable(ctx.sql).listPublished('', publisher?.instanceId ?? null);
  const byIdentity = new Map<string, ServerView>();
  for (const r of registrations) {
    byIdentity.set(r.identity, {
      identity: r.identity,
      registered: true,
      host: r.host,
      pid: r.pid,
      packageVersion: r.packageVersion,
      instanceId: r.instanceId,
      role: r.role,
      active: r.active,
      publisher: r.holdsLease,
      registeredAt: iso(r.registeredAt),
      lastHeartbeat: iso(r.lastHeartbeat),
      heartbeatAgeSeconds: secondsBetween(r.lastHeartbeat, now),
      refreshers: r.refreshers,
      regions: r.regions,
      wakeUp: r.wakeUp,
      cursor: null,
      pendingRows: null,
      pendingInstructions: null,
      lagSeconds: null,
      lastError: r.lastError,
    });
  }
  for (const c of cursors) {
    const view = byIdentity.get(c.identity) ?? unregistered(c.identity);
    view.cursor = cursorView(c);
    byIdentity.set(c.identity, view);
  }
  const every = [...byIdentity.values()].sort((a, b) => a.identity.localeCompare(b.identity));
  // A clean stop is not a problem to look at: each rollout would add a row per pod.
  const servers = options.all === false ? every.filter((s) => !isStopped(s)) : every;
  if (options.pending !== false) {
    // Every server's backlog in one statement, not one per server: the dashboard lists 200
    // servers every few seconds (bench #11 measures the two side by side).
    const withCursor = servers.filter((s) => s.cursor !== null);
    const pending = await ctx.store.pendingMany(withCursor.map((s) => s.cursor!.position));
    for (const s of withCursor) {
      const p = pending.get(s.cursor!.position)!;
      s.pendingRows = p.rows;
      s.pendingInstructions = p.instructions;
      s.lagSeconds = p.oldest ? secondsBetween(p.oldest, now) : 0;
    }
  }
  return { now, publisher, servers, hiddenStopped: every.length - servers.length };
}

/** Stopped cleanly and not back since (a restart under the same identity makes the row active again). */
export function isStopped(s: Pick<ServerView, 'role' | 'active'>): boolean {
  return s.role === 'stopped' && !s.active;
}

/** One server, or AdminError E_UNKNOWN_SERVER naming the servers there are. */
export async function findServer(
  ctx: AdminContext,
  identity: string,
  options: { pending?: boolean } = {},
): Promise<{ now: Date; server: ServerView }> {
  checkIdentity(identity);
  const { now, servers } = await listServers(ctx, options);
  const server = servers.find((s) => s.identity === identity);
  if (!server)
    throw unknownServer(
      ctx,
      identity,
      servers.map((s) => s.identity),
    );
  return { now, server };
}

export function checkIdentity(identity: string): void {
  if (typeof identity !== 'string' || !SERVER_IDENTITY_PATTERN.test(identity)) {
    throw new AdminError(
      'E_INVALID_ARGUMENT',
      `${JSON.stringify(identity)} is not a server identity; identities use letters, digits and . _ : @ / -`,
    );
  }
}

export function unknownServer(ctx: AdminContext, identity: string, known: string[]): AdminError {
  const list = known.length > 0 ? `known servers: ${known.join(', ')}` : 'no server has registered or synced in it yet';
  return new AdminError('E_UNKNOWN_SERVER', `no server '${identity}' in cluster '${ctx.cluster}'; ${list}`);
}

function unregistered(identity: string): ServerView {
  return {
    identity,
    registered: false,
    host: null,
    pid: null,
    packageVersion: null,
    instanceId: null,
    role: null,
    active: false,
    publisher: false,
    registeredAt: null,
    lastHeartbeat: null,
    heartbeatAgeSeconds: null,
    refreshers: null,
    regions: null,
    wakeUp: null,
    cursor: null,
    pendingRows: null,
    pendingInstructions: null,
    lagSeconds: null,
    lastError: null,
  };
}

function cursorView(c: CursorState): CursorView {
  return {
    position: c.position,
    lastSynced: iso(c.lastSynced),
    coldBootRequested: c.coldBootRequested,
    databaseIdentity: c.databaseIdentity,
  };
}

export interface ForgetResult {
  server: string;
  /** Its registration row was deleted. */
  registration: boolean;
  /** Its cursor was deleted. */
  cursor: boolean;
}

/**
 * Deletes a server's registration and cursor. Refuses a server that is still heartbeating unless
 * `force`: it would register again at its next heartbeat and, having lost its cursor, cold-boot.
 */
export async function forgetServer(
  ctx: AdminContext,
  identity: string,
  options: { force?: boolean; staleServerTimeout: number },
): Promise<ForgetResult> {
  const { server } = await findServer(ctx, identity, { pending: false });
  const alive = server.active && server.heartbeatAgeSeconds !== null && server.heartbeatAgeSeconds * 1000 < options.staleServerTimeout;
  if (alive && !options.force) {
    throw new AdminError(
      'E_SERVER_ACTIVE',
      `server '${identity}' is active (last heartbeat ${server.heartbeatAgeSeconds} s ago, host ${server.host}, ` +
        `pid ${server.pid}); stop it first, or pass --force: it would register again at its next heartbeat and cold-boot`,
    );
  }
  // The registration first: a server that comes back between the two statements re-registers,
  // and finds no cursor, so it cold-boots rather than trusting a half-forgotten state.
  const registration =
    (await ctx.store.bounded(ctx.knex(ctx.tables.server).where({ cluster: ctx.cluster, server_identity: identity }).delete())) > 0;
  const cursor = await ctx.store.deleteCursor(identity);
  return { server: identity, registration, cursor };
}
