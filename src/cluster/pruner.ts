import { describeError, errors } from '../errors.js';
import type { TypedEmitter } from '../events.js';
import type { Logger } from '../logger.js';
import type { InstructionStore, PruneChunkResult } from '../store/store.js';
import { pause } from '../util/async.js';
import type { RestClock } from '../util/timers.js';

export interface PruneResult {
  deleted: number;
  /** Servers that had not read every deleted row; they cold-boot at their next poll. */
  marked: string[];
  /** Servers gone longer than forgetServersAfter whose cursor and registration were deleted. */
  forgotten: string[];
  durationMs: number;
}

export interface PrunerSettings {
  retention: number;
  /** The hard cap: rows older than this go even when a server still needs them. */
  maxRetention: number;
  chunkSize: number;
  /**
   * The share of a prune's time spent in delete statements: after each chunk it rests
   * `(1 / dutyCycle - 1)` times as long as the chunk took. 1 never rests.
   */
  dutyCycle: number;
  /** Time and waiting, replaceable in tests. @default performance.now and a timer */
  clock?: RestClock;
  /** Hears every chunk as it is deleted; the operator's `prune` reports progress with it. */
  onChunk?: (chunk: PruneChunkResult) => void;
}

const REAL_CLOCK: RestClock = { now: () => performance.now(), rest: (ms: number, signal?: AbortSignal) => pause(ms, signal) };

/** What the cluster tells a prune: whose progress to respect, and whom to forget. */
export interface PruneMembership {
  /** The positions of the servers a prune must not pass (the active ones). */
  coveredBy(): Promise<readonly string[]>;
  /** Deletes cursors and registrations of long-gone servers; returns their identities. */
  forget(): Promise<string[]>;
}

/**
 * Deletes old rows in bounded chunks, each its own short transaction, so writers are never held
 * up for long. Any server whose cursor had not reached a deleted row is marked for a cold boot
 * in the same transaction as the delete, so a prune can make a server reload, never miss a row.
 * Several pruners at once are safe: a row deleted twice is simply gone.
 */
export class Pruner {
  private running: Promise<PruneResult> | undefined;
  /** Set by the cache's stop(): a prune in flight ends after its current chunk and sends nothing more. */
  private halted = false;
  /** Ends a rest between chunks at once on halt(), so no rest timer outlives stop(). */
  private readonly halting = new AbortController();

  constructor(
    private readonly store: InstructionStore,
    private readonly events: TypedEmitter,
    private readonly logger: Logger,
    private readonly settings: PrunerSettings,
  ) {}

  /**
   * Prunes now; a call while a prune runs shares it. With `membership`, rows past `retention` go
   * only once every active server has read them, and then rows past `maxRetention` go regardless
   * (their laggards are marked for a cold boot); long-gone servers are forgotten.
   */
  prune(membership?: PruneMembership): Promise<PruneResult> {
    this.running ??= this.run(membership).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * For stop(): a prune in flight finishes the chunk it is deleting (its own short transaction)
   * and then rejects with E_STOPPED; what it did not reach goes at the next prune, on any server.
   */
  halt(): void {
    this.halted = true;
    this.halting.abort();
  }

  /** The prune in flight, if any, so stop() can wait for it to end. */
  get inFlight(): Promise<unknown> | undefined {
    return this.running;
  }

  private async run(membership?: PruneMembership): Promise<PruneResult> {
    const started = performance.now();
    const marked = new Set<string>();
    let deleted = 0;
    let forgotten: string[] = [];
    try {
      // Read once per prune: a server that catches up meanwhile only makes the prune conservative.
      this.open();
      const covered = membership ? await membership.coveredBy() : undefined;
      deleted += await this.pass({ olderThanMs: this.settings.retention, coveredBy: covered }, marked);
      if (membership) {
        deleted += await this.pass({ olderThanMs: this.settings.maxRetention }, marked);
        this.open();
        forgotten = await membership.forget();
      }
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      if (this.halted) throw error;
      this.logger.warn({ err: describeError(error), deleted }, 'prune failed; it runs again at its next schedule');
      this.events.emit('prune:error', { error });
      throw error;
    }
    const result = { deleted, marked: [...marked], forgotten, durationMs: performance.now() - started };
    if (deleted > 0 || forgotten.length > 0)
      this.logger.info({ deleted, marked: result.marked, forgotten }, 'pruned the cache instruction log');
    this.events.emit('prune:complete', result);
    return result;
  }

  private open(): void {
    if (this.halted) throw new errors.StoppedError('this DistributedCache was stopped while pruning; the rest of the prune was not run');
  }

  /** Deletes chunk by chunk until a chunk comes back short. */
  private async pass(options: { olderThanMs: number; coveredBy?: readonly string[] }, marked: Set<string>): Promise<number> {
    let deleted = 0;
    const clock = this.settings.clock ?? REAL_CLOCK;
    for (;;) {
      this.open();
      const chunkStarted = clock.now();
      const chunk = await this.store.pruneChunk({ ...options, limit: this.settings.chunkSize });
      deleted += chunk.deleted;
      chunk.marked.forEach((identity) => marked.add(identity));
      this.settings.onChunk?.(chunk);
      if (chunk.deleted < this.settings.chunkSize) return deleted;
      // Rest in proportion to the chunk: a slow database (or a busy one) gets longer gaps, and
      // the writers and polls sharing it keep their latency while a large backlog is deleted.
      const rest = (clock.now() - chunkStarted) * (1 / this.settings.dutyCycle - 1);
      await (rest > 0 ? clock.rest(rest, this.halting.signal) : new Promise((resolve) => setImmediate(resolve)));
    }
  }
}
