import { EventEmitter } from 'node:events';
import type { InstructionKind } from './instructions/types.js';
import type { FailureAction } from './store/store.js';
import type { ServerRole } from './cluster/roles.js';
import type { RegionKey } from './regions/keys.js';

/**
 * Why a server reloaded every cache. 'database-changed': its cursor could not be proven to belong to
 * the database it reads (a dump restored, a standby promoted, a PITR, an older copy); see docs/operations.md.
 */
export type ColdBootReason = 'no-cursor' | 'requested' | 'too-far-behind' | 'database-changed';

/**
 * Every event distcache emits, by name, with its payload type. `TypedEmitter` below only takes
 * these names and payloads, so a name and its payload cannot drift apart.
 */
export interface DistcacheEvents {
  /** Rows were committed to the log by this instance. */
  'instruction:written': {
    rowIds: number[];
    instructions: number;
    /** Instructions per refresher (coalesced weight), for per-refresher write metrics. */
    byRefresher: Record<string, number>;
    inTransaction: boolean;
    /** How long the insert took. */
    durationMs: number;
  };
  /** A refresher method ran successfully. `source` says whether the instruction came from this instance or the log. */
  'instruction:applied': {
    refresher: string;
    kind: InstructionKind;
    count: number;
    source: 'local' | 'remote';
    rowIds: number[];
    durationMs: number;
  };
  /** A refresher method failed after its retries; `action` says what was done about it. */
  'instruction:failed': { refresher: string; kind: InstructionKind | null; action: FailureAction; error: Error; rowIds: number[] };
  /**
   * A row (`index` null) or one instruction of it (`index`) could not be decoded. It is skipped,
   * counted and recorded; `refreshAll` lists the refreshers of this server that get a refreshAll()
   * in its place (every one when the row names none that can be read).
   */
  'instruction:malformed': { rowId: number; index: number | null; refresher: string | null; reason: string; refreshAll: string[] };
  /** A poll finished. */
  'sync:complete': SyncResultEvent;
  /** A poll failed; the poller backs off and retries. */
  'sync:error': { error: Error; consecutiveFailures: number; retryInMs: number };
  /** `detail`: for 'database-changed', what was found (otherwise absent). */
  'server:cold-boot': { reason: ColdBootReason; pendingInstructions: number | null; detail?: string };
  /** `forgotten`: identities whose cursor and registration were deleted (gone longer than forgetServersAfter). */
  'prune:complete': { deleted: number; marked: string[]; forgotten: string[]; durationMs: number };
  'prune:error': { error: Error };
  /** This server's role changed (see `cache.role`); application code can start or stop its own once-per-cluster jobs here. */
  'server:role-changed': { previous: ServerRole; role: ServerRole };
  /**
   * Another live process heartbeats under this server's identity. The two share one cursor, so
   * each may skip rows the other read: give every process its own `serverIdentity`.
   */
  'server:duplicate-identity': { identity: string; otherInstanceId: string; otherHost: string; otherPid: number; error: Error };
  /** A heartbeat failed; it is retried at the next interval. */
  'heartbeat:error': { error: Error; consecutiveFailures: number };
  /** The wake-up listener (LISTEN/NOTIFY, a WAL watch) failed; it retries by itself, and polling goes on meanwhile. */
  'wake:error': { error: Error; retryInMs: number };
  /** A write failed: the promise rejected and nothing was applied locally. */
  'write:error': { error: Error };
  /**
   * A region's loader threw. Every caller waiting on that load got the error, or, with
   * `servedFromGrace`, the expired entry the region kept for this case. Nothing was cached.
   */
  'region:load-error': { region: string; key: RegionKey; error: Error; servedFromGrace: boolean };
  /**
   * An invalidation was applied to a region on this server: `keys` dropped (or stored, for
   * `values`), `'all'` for refreshAll or a cold boot, or `tags`.
   */
  'region:invalidated': { region: string; keys: RegionKey[] | 'all'; tags: string[] | null; values: boolean };
  /** An invalidation overtook a load: it answered the callers that were waiting and stored nothing. */
  'region:load-discarded': { region: string; key: RegionKey };
  /**
   * A region's loader call ended, resolved or thrown (a `loadMany` call counts once, with `keys`
   * its number of keys): what `stats().loadDurations` and the OpenTelemetry load-duration histogram record.
   */
  'region:load-finished': { region: string; durationMs: number; keys: number; failed: boolean };
  /**
   * A `waitFor()` call ended (a token that was not valid rejects and is not reported): what the
   * Prometheus and OpenTelemetry waitFor metrics record. `durationMs` is how long the call took.
   */
  'position:waited': { outcome: WaitOutcome; durationMs: number };
}

/**
 * How a `waitFor()` call ended: `applied`, true at the first look (or the token was ''); `waited`,
 * true after this server polled or waited for its polls; `timed-out`, false at the timeout; `stopped`,
 * false because this server was not applying the log (before start(), during or after stop()).
 */
export type WaitOutcome = 'applied' | 'waited' | 'timed-out' | 'stopped';

export interface SyncResultEvent {
  rows: number;
  instructions: number;
  skippedOwn: number;
  malformed: number;
  coldBoot: ColdBootReason | null;
  durationMs: number;
  /** The position this server has applied up to after the poll. */
  position: string;
}

export type EventName = keyof DistcacheEvents;

/** A typed EventEmitter: `on`, `once`, `off` and `emit` only take the names and payloads above. */
export class TypedEmitter extends EventEmitter {
  constructor(private readonly onListenerError: (event: EventName, err: unknown) => void) {
    super();
  }

  override on<E extends EventName>(event: E, listener: (payload: DistcacheEvents[E]) => void): this {
    return super.on(event, listener);
  }
  override once<E extends EventName>(event: E, listener: (payload: DistcacheEvents[E]) => void): this {
    return super.once(event, listener);
  }
  override off<E extends EventName>(event: E, listener: (payload: DistcacheEvents[E]) => void): this {
    return super.off(event, listener);
  }
  /** Emits a payload that costs something to build (a pass over a write's instructions) only when someone listens. */
  emitBuilt<E extends EventName>(event: E, build: () => DistcacheEvents[E]): boolean {
    return this.listenerCount(event) > 0 && this.emit(event, build());
  }

  override emit<E extends EventName>(event: E, payload: DistcacheEvents[E]): boolean {
    // A listener that throws must not break a poll or a write.
    try {
      return super.emit(event, payload);
    } catch (err) {
      this.onListenerError(event, err);
      return true;
    }
  }
}
