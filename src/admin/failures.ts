import type { FailureAction } from '../store/store.js';
import { iso, type AdminContext } from './context.js';
import { listServers, unknownServer, checkIdentity } from './servers.js';

/** One recorded failure: an instruction a server could not apply as written, and what it did. */
export interface FailureView {
  id: number;
  at: string | null;
  server: string;
  /** The row it came from; null when not tied to one row. */
  rowId: number | null;
  refresher: string | null;
  kind: string | null;
  action: FailureAction;
  error: string;
  detail: string | null;
}

export interface FailuresReport {
  cluster: string;
  /** Failures recorded in the cluster, all servers. */
  total: number;
  server: string | null;
  limit: number;
  /** Newest first. */
  failures: FailureView[];
}

export async function listFailures(ctx: AdminContext, options: { server?: string; limit: number }): Promise<FailuresReport> {
  if (options.server !== undefined) checkIdentity(options.server);
  const [total, raws] = await Promise.all([
    ctx.store.countFailures(),
    ctx.store.listFailures({ identity: options.server, limit: options.limit }),
  ]);
  if (options.server !== undefined && raws.length === 0) {
    // No failures for a server that does exist is an answer; for one that does not, a typo.
    const { servers } = await listServers(ctx, { pending: false });
    if (!servers.some((s) => s.identity === options.server))
      throw unknownServer(
        ctx,
        options.server,
        servers.map((s) => s.identity),
      );
  }
  return {
    cluster: ctx.cluster,
    total,
    server: options.server ?? null,
    limit: options.limit,
    failures: raws.map((f) => ({
      id: f.id,
      at: iso(f.createdAt),
      server: f.identity,
      rowId: f.instructionId,
      refresher: f.refresher,
      kind: f.kind,
      action: f.action,
      error: f.error,
      detail: f.detail,
    })),
  };
}
