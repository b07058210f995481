import { iso, type AdminContext } from './context.js';
import { operatorOrigin } from './origin.js';
import { toDate } from '../store/columns.js';

/** What an operator did to the cluster: the actions the dashboard offers, and the CLI's same commands. */
export type OperatorAction = 'resync' | 'resync-all' | 'prune';

/** One recorded action, newest first in `actions()`. Times are ISO-8601 by the database clock. */
export interface ActionView {
  id: number;
  at: string | null;
  action: OperatorAction;
  /** The server, for a single resync. */
  server: string | null;
  /** Who ran it: `dashboard:<who>@<host>`, `cli:<user>@<host>` or `admin:<user>@<host>`. */
  originated: string;
  /** What it did (the Admin call's result), as recorded; null when it did not fit. */
  result: unknown;
}

/** Actions kept per cluster: the table stays small however often a script acts. */
export const ACTIONS_KEPT = 1000;

/** A recorded result longer than this is left out (a prune's list of forgotten servers can be long). */
const MAX_RESULT_CHARS = 4000;

/**
 * Records an action that ran, with who ran it, in `cache_action` (migration 010), then trims the
 * cluster's rows to the newest ACTIONS_KEPT. False when the table does not exist yet (a schema
 * before 010): the action still ran, and `distcache migrate` makes the next one recorded.
 */
export async function recordAction(
  ctx: AdminContext,
  entry: { action: OperatorAction; server: string | null; originated: string | undefined; result: unknown },
): Promise<boolean> {
  if (!(await ctx.knex.schema.hasTable(ctx.tables.action))) return false;
  const text = JSON.stringify(entry.result ?? null);
  await ctx.store.bounded(
    ctx.knex(ctx.tables.action).insert({
      cluster: ctx.cluster,
      action: entry.action,
      server_identity: entry.server,
      originated: (entry.originated ?? operatorOrigin('admin')).slice(0, 255),
      result: text.length <= MAX_RESULT_CHARS ? text : null,
    }),
  );
  // By id, through the (cluster, id) index: the ACTIONS_KEPT-th newest id, and everything older.
  const [edge] = (await ctx.store.bounded(
    ctx.knex(ctx.tables.action).where('cluster', ctx.cluster).orderBy('id', 'desc').offset(ACTIONS_KEPT).limit(1).select('id'),
  )) as Array<{ id: number | string }>;
  if (edge) await ctx.store.bounded(ctx.knex(ctx.tables.action).where('cluster', ctx.cluster).where('id', '<=', edge.id).delete());
  return true;
}

/** The newest `limit` actions of the cluster, newest first; none on a schema before migration 010. */
export async function listActions(ctx: AdminContext, limit: number): Promise<ActionView[]> {
  if (!(await ctx.knex.schema.hasTable(ctx.tables.action))) return [];
  const raws = (await ctx.store.bounded(
    ctx.knex(ctx.tables.action).where('cluster', ctx.cluster).orderBy('id', 'desc').limit(limit).select('*'),
  )) as Array<Record<string, unknown>>;
  return raws.map((r) => ({
    id: Number(r.id),
    at: iso(toDate(r.created_at)),
    action: String(r.action) as OperatorAction,
    server: r.server_identity == null ? null : String(r.server_identity),
    originated: String(r.originated),
    result: parseResult(r.result),
  }));
}

function parseResult(value: unknown): unknown {
  if (value == null) return null;
  try {
    return JSON.parse(String(value)) as unknown;
  } catch {
    return null;
  }
}
