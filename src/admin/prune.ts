import { ServerTable } from '../cluster/server-table.js';
import { TypedEmitter } from '../events.js';
import { silentLogger } from '../logger.js';
import { DEFAULTS } from '../options.js';
import type { PruneChunkResult } from '../store/store.js';
import { Pruner, type PruneResult } from '../cluster/pruner.js';
import { secondsBetween, type AdminContext } from './context.js';
import { listServers } from './servers.js';

/**
 * The settings a prune follows. The servers' own values are not stored anywhere, so an operator
 * who changed them on the servers passes the same values here; the defaults are the library's.
 */
export interface PruneRules {
  /** Rows older than this go once every active server has applied them. @default '2d' */
  retention: number;
  /** Rows older than this go regardless; servers that had not read them cold-boot. @default '7d' */
  maxRetention: number;
  /** A server without a heartbeat for this long no longer holds pruning back. @default '2m' */
  staleServerTimeout: number;
  /** Registrations and cursors of servers inactive this long are deleted. @default '7d' */
  forgetServersAfter: number;
  /** Rows per delete statement. @default 250 */
  chunkSize: number;
  /** Share of the prune's time spent deleting (see the pruneDutyCycle option). @default 0.1 */
  dutyCycle: number;
}

export function defaultPruneRules(): PruneRules {
  return {
    retention: DEFAULTS.retention,
    maxRetention: Math.max(DEFAULTS.maxRetention, DEFAULTS.retention),
    staleServerTimeout: DEFAULTS.staleServerTimeout,
    forgetServersAfter: DEFAULTS.forgetServersAfter,
    chunkSize: DEFAULTS.pruneChunkSize,
    dutyCycle: DEFAULTS.pruneDutyCycle,
  };
}

export interface PruneRange {
  rows: number;
  minId: number | null;
  maxId: number | null;
}

export interface PrunePreview {
  retentionSeconds: number;
  maxRetentionSeconds: number;
  /** Servers whose cursors bound the retention pass: active, heartbeating, not already flagged. */
  respecting: string[];
  /** Rows the retention pass would delete: older than retention and applied by every server in `respecting`. */
  withinRetention: PruneRange;
  /** Rows the hard-cap pass would delete: older than maxRetention, applied or not. Overlaps `withinRetention`. */
  pastMaxRetention: PruneRange;
  /** Servers that would likely be flagged to cold-boot: a row they have not applied would go. */
  mayColdBoot: string[];
  /** Servers (registrations and cursors) a real prune would forget. */
  wouldForget: string[];
}

/**
 * What `prune` would delete, without deleting. The rows come from the same store call and the
 * same membership rule (`ServerTable.activePositions`) as the scheduled prune.
 */
export async function prunePreview(ctx: AdminContext, rules: PruneRules): Promise<PrunePreview> {
  const table = new ServerTable(ctx.sql);
  const coveredBy = await table.activePositions(rules.staleServerTimeout);
  const [withinRetention, pastMaxRetention, { now, servers }] = await Promise.all([
    ctx.store.prunePreview({ olderThanMs: rules.retention, coveredBy }),
    ctx.store.prunePreview({ olderThanMs: rules.maxRetention }),
    listServers(ctx),
  ]);
  const respected = (s: (typeof servers)[number]) =>
    s.registered &&
    s.active &&
    s.heartbeatAgeSeconds !== null &&
    s.heartbeatAgeSeconds * 1000 < rules.staleServerTimeout &&
    s.cursor !== null &&
    !s.cursor.coldBootRequested;
  const respecting = servers.filter(respected).map((s) => s.identity);
  const mayColdBoot = servers
    .filter((s) => s.cursor && !s.cursor.coldBootRequested && s.lagSeconds !== null)
    .filter(
      (s) =>
        s.lagSeconds! * 1000 > rules.maxRetention || (!respected(s) && s.lagSeconds! * 1000 > rules.retention && withinRetention.rows > 0),
    )
    .map((s) => s.identity);
  const gone = (s: (typeof servers)[number]) => {
    const since = s.registered ? (s.active ? null : s.lastHeartbeat) : (s.cursor?.lastSynced ?? new Date(0).toISOString());
    const age = since === null ? null : secondsBetween(new Date(since), now);
    return age !== null && age * 1000 > rules.forgetServersAfter;
  };
  return {
    retentionSeconds: rules.retention / 1000,
    maxRetentionSeconds: rules.maxRetention / 1000,
    respecting,
    withinRetention,
    pastMaxRetention,
    mayColdBoot,
    wouldForget: servers.filter(gone).map((s) => s.identity),
  };
}

/**
 * Prunes now with the rules of the scheduled prune: the library's `Pruner`, bounded by the active
 * servers' cursors as the cluster code computes them, then the hard cap, then forgetting.
 * `onProgress` hears the running total after every chunk.
 */
export async function prune(ctx: AdminContext, rules: PruneRules, onProgress?: (deleted: number) => void): Promise<PruneResult> {
  let deleted = 0;
  const onChunk = (chunk: PruneChunkResult) => {
    deleted += chunk.deleted;
    onProgress?.(deleted);
  };
  const settings = {
    retention: rules.retention,
    maxRetention: rules.maxRetention,
    chunkSize: rules.chunkSize,
    dutyCycle: rules.dutyCycle,
    onChunk,
  };
  const pruner = new Pruner(ctx.store, new TypedEmitter(() => undefined), silentLogger, settings);
  const table = new ServerTable(ctx.sql);
  return pruner.prune({
    coveredBy: () => table.activePositions(rules.staleServerTimeout),
    forget: () => table.forget(rules.forgetServersAfter),
  });
}
