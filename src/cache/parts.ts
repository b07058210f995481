import { hostname } from 'node:os';
import type { ErrorRecord } from '../cluster/health.js';
import { Heartbeat } from '../cluster/heartbeat.js';
import { Membership } from '../cluster/membership.js';
import { packageVersion } from '../cluster/version.js';
import { errors } from '../errors.js';
import type { TypedEmitter } from '../events.js';
import type { InstrumentationHooks } from '../instrumentation.js';
import { resolveTables } from '../migrations/migrate.js';
import type { ResolvedOptions } from '../options.js';
import type { RefresherRegistry } from '../refreshers/registry.js';
import type { RegionSet } from '../regions/region-set.js';
import type { RequestScopes } from '../regions/request-scope.js';
import { dialectFor } from '../dialects/dialect.js';
import type { InstructionStore } from '../store/store.js';
import { Applier } from '../apply/applier.js';
import { Poller } from '../sync/poller.js';
import { Pruner } from '../cluster/pruner.js';
import type { OwnWrites } from '../apply/own-writes.js';
import { Ticker } from '../sync/ticker.js';
import { runsScheduledWork } from '../cluster/roles.js';
import { Writer } from '../write/writer.js';
import type { WakeSource, WakeSourceConfig } from '../wake/wake-source.js';
import { wakeUpState } from './wake-up-state.js';
import { RelayWakeSource } from '../wake/relay.js';
import { notifyChannel } from '../dialects/wake-sources.js';

/** The working parts of one DistributedCache, each made once from the resolved options. */
export interface CacheParts {
  readonly store: InstructionStore;
  /** LISTEN/NOTIFY or a WAL watch; undefined where the dialect has none or `notify: false`. */
  readonly wake: WakeSource | undefined;
  /**
   * Starts the wake-up with its other end, the poller's wake(), wired here beside the commit hook
   * (the writer's onCommitted), so both ends of the wake-up are wired in this one file.
   */
  readonly startWake: () => Promise<void>;
  readonly applier: Applier;
  readonly writer: Writer;
  readonly poller: Poller;
  readonly pruner: Pruner;
  readonly membership: Membership;
  readonly heartbeat: Heartbeat;
  /** With `replicas`: writes the replicated tick after commits and, on the elected server, once per interval. */
  readonly ticker: Ticker | undefined;
}

/** What the cache itself holds and its parts share. */
export interface CacheShared {
  readonly instanceId: string;
  readonly events: TypedEmitter;
  readonly registry: RefresherRegistry;
  readonly hooks: InstrumentationHooks;
  readonly ownWrites: OwnWrites;
  readonly errorRecord: ErrorRecord;
  readonly regionSet: RegionSet;
  /** Request scopes: each write tells the one it runs in (its position token). */
  readonly scopes: RequestScopes;
}

/**
 * Makes the parts and wires them to one another: the store of the knex's dialect, the applier
 * and writer over it, the poller, pruner, wake-up (both its ends), membership and heartbeat. Nothing starts here.
 */
export function makeParts(o: ResolvedOptions, shared: CacheShared): CacheParts {
  const { instanceId, events, registry, hooks, ownWrites, errorRecord, regionSet, scopes } = shared;
  const tables = resolveTables(o.tablePrefix);
  const dialect = dialectFor(o.knex);
  if ((o.notifyConnection !== undefined || o.notifyRelay) && !dialect.listenerConnection) {
    // A listener connection would be silently unused: only PostgreSQL's wake-up has one.
    throw new errors.InvalidOptionError(
      `notify: a connection${o.notifyRelay ? " (or 'relay')" : ''} is for PostgreSQL's listener; on ${dialect.name} use true or false`,
    );
  }
  const storeConfig = {
    knex: o.knex,
    tables,
    cluster: o.cluster,
    queryTimeout: o.queryTimeout,
    preparedStatements: o.preparedStatements,
    logger: o.logger,
    maxRowBytes: o.maxRowBytes,
    maxPageBytes: o.maxPageBytes,
  };
  const store = o.replicas.length > 0 ? dialect.createReplicatedStore(storeConfig, replicaSettings(o)) : dialect.createStore(storeConfig);
  const cursorInHeartbeat = o.replicas.length > 0 || dialect.name !== 'sqlite';
  const applier = new Applier(registry, store, events, o.logger, hooks, {
    identity: o.serverIdentity,
    refresherTimeout: o.refresherTimeout,
    refresherRetries: o.refresherRetries,
    retryDelay: o.retryDelay,
  });
  const writer = new Writer(store, applier, events, o.logger, hooks, ownWrites, {
    identity: o.serverIdentity,
    instanceId,
    maxInstructionsPerRow: o.maxInstructionsPerRow,
    maxRowBytes: o.maxRowBytes,
    // Tells the other processes after every committed write; `wake` is set below.
    onCommitted: () => (ticker?.afterCommit(), wake?.notifyCommitted()),
    // An executor write with no commit hook: SQLite's commit is itself the signal to every process;
    // on PostgreSQL a NOTIFY inside the caller's transaction goes out at its commit.
    executorCommitSignal: () => (wake?.commitWakes ? 'commit' : wake?.inTransactionNotify?.()),
    syncInterval: o.syncInterval,
    refresherTimeout: o.refresherTimeout,
    onInserted: (rowId) => scopes.current()?.wrote(rowId),
  });
  const poller = new Poller(store, applier, events, o.logger, hooks, ownWrites, {
    identity: o.serverIdentity,
    instanceId,
    syncInterval: o.syncInterval,
    pageSize: o.pageSize,
    maxPendingInstructions: o.maxPendingInstructions,
    startFromHead: o.startFromHead,
    maxErrorBackoff: o.maxErrorBackoff,
    // A busy cursor is stored by the heartbeat, in its transaction, and an idle one is not
    // rewritten (the heartbeat shows the server alive): a fleet, busy or idle, then costs the
    // primary one write transaction per server per heartbeatInterval (see StoredCursor). Not on
    // SQLite: one file on one host has no fleet to spare, and its polls store the cursor as before.
    idleCursorSaves: !cursorInHeartbeat,
    cursorInHeartbeat,
    wakeThrottle: o.wakeThrottle,
    // Regions empty on every cold boot, also when the application handles it itself.
    onColdBoot: o.onColdBoot ? (context) => (regionSet.invalidateAll(), o.onColdBoot!(context)) : undefined,
  });
  const pruner = new Pruner(store, events, o.logger, {
    retention: o.retention,
    maxRetention: o.maxRetention,
    chunkSize: o.pruneChunkSize,
    dutyCycle: o.pruneDutyCycle,
  });
  const wake: WakeSource | undefined = !o.notify
    ? undefined
    : o.notifyRelay
      ? relayWakeSource(o, tables.prefix)
      : dialect.createWakeSource?.({
          knex: o.knex,
          tables,
          cluster: o.cluster,
          logger: o.logger,
          queryTimeout: o.queryTimeout,
          connection: o.notifyConnection as WakeSourceConfig['connection'],
          onError: (error, retryInMs) => events.emit('wake:error', { error, retryInMs }),
        });
  const membership = new Membership({ knex: o.knex, tables, cluster: o.cluster, store }, events, o.logger, {
    registration: { identity: o.serverIdentity, instanceId, host: hostname(), pid: process.pid, packageVersion: packageVersion() },
    role: o.role,
    staleServerTimeout: o.staleServerTimeout,
    leaseDuration: o.leaseDuration,
    forgetServersAfter: o.forgetServersAfter,
    lastError: () => {
      const last = errorRecord.latestWith(poller.lastError);
      return last ? `${last.at.toISOString()} ${last.source}: ${last.message}`.slice(0, 2000) : null;
    },
    refresherIds: () => registry.all().map((r) => r.id),
    regions: () => regionSet.stats(),
    wakeUp: () => wakeUpState(wake),
    cursor: cursorInHeartbeat
      ? { forHeartbeat: () => poller.cursorForHeartbeat(), saved: (save, written) => poller.cursorSavedByHeartbeat(save, written) }
      : undefined,
  });
  const tick = store.tick?.bind(store);
  const ticker = tick
    ? new Ticker({
        tick,
        elected: () => runsScheduledWork(membership.role),
        // Plain SQL writers' rows reach replica readers within one tick interval plus a poll.
        intervalMs: Math.max(o.syncInterval, 1000),
        logger: o.logger,
        onError: (error) => errorRecord.record('write', error),
      })
    : undefined;
  const heartbeat = new Heartbeat(() => membership.beat(), events, o.logger, o.heartbeatInterval);
  events.on('heartbeat:error', ({ error }) => errorRecord.record('heartbeat', error));
  events.on('prune:error', ({ error }) => errorRecord.record('prune', error));
  events.on('write:error', ({ error }) => errorRecord.record('write', error));
  const startWake = async (): Promise<void> => {
    await wake?.start(() => poller.wake());
  };
  return { store, wake, startWake, applier, writer, poller, pruner, membership, heartbeat, ticker };
}

/** `notify: 'relay'`: the wake-up comes over IPC from the cluster primary's one LISTEN (integrations/cluster.ts). */
function relayWakeSource(o: ResolvedOptions, prefix: string): WakeSource {
  const channel = notifyChannel(prefix, o.cluster);
  // An executor's transaction NOTIFYs as usual: the primary's listener hears it and relays it here.
  return new RelayWakeSource(channel, { text: 'select pg_notify(?, ?)', values: [channel, ''], dialect: 'postgres' });
}

/** How a replicated store treats its replicas, from the options. */
function replicaSettings(o: ResolvedOptions) {
  // A replica that failed is tried again after a few polls, not at every one.
  return { replicas: o.replicas, maxReplicaLag: o.maxReplicaLag, retryAfter: Math.max(5 * o.syncInterval, 1000) };
}
