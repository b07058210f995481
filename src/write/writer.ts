import type { Knex } from 'knex';
import { describeError, errors } from '../errors.js';
import type { TypedEmitter } from '../events.js';
import type { CacheId, Instruction } from '../instructions/types.js';
import type { Logger } from '../logger.js';
import type { InstructionStore, NewInstructionRow } from '../store/store.js';
import type { Applier } from '../apply/applier.js';
import { continuesRun, gather, gatherBatch, gatherIds, openBatchOf } from './batch.js';
import { whenCommitted } from './transaction.js';
import { settleWithin } from '../util/async.js';
import { instructionRows, type BuiltRows } from './rows.js';
import { commitScopeOf } from './commit-scope.js';
import type { Executor, SyncExecutor } from '../store/executor.js';
import type { OwnWrites } from '../apply/own-writes.js';
import type { InstrumentationHooks, WriteInfo } from '../instrumentation.js';
import { UnseenCommit, type CommitSignal } from './unseen-commit.js';
import { GATHERED, written, type WrittenRow } from './written.js';

export interface WriterSettings {
  identity: string;
  instanceId: string;
  maxInstructionsPerRow: number;
  /** See the maxRowBytes option. */
  maxRowBytes?: number;
  /**
   * Called once after each committed write, never inside the transaction: the cache's wake-up
   * tells the other processes (WakeSource.notifyCommitted). Must not throw.
   */
  onCommitted?: () => void;
  /** How long a caller waits for the local apply; retries go on in the background after it. */
  refresherTimeout: number;
  /** For executor writes whose commit cannot be seen here: see unseen-commit.ts. */
  executorCommitSignal?: CommitSignal;
  /** For that warning. */
  syncInterval?: number;
  /**
   * Called with the newest row id of each write as soon as its rows are inserted (in the writer's
   * async context, so a request scope sees its own writes; see cache/positions.ts). Must not throw.
   */
  onInserted?: (lastRowId: number) => void;
}

/**
 * Writes instructions to the log and applies them to this instance's own refreshers once the
 * write has committed, never before: a write that fails or rolls back is applied nowhere.
 */
export class Writer {
  /** Writes in flight and local applies still running, so stop() can wait for them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Local applies running, a subset of inFlight. */
  private readonly applies = new Set<Promise<unknown>>();
  /** Aborted when stop() gives up waiting: local applies still retrying then stop at once. */
  private readonly abandon = new AbortController();
  private readonly unseenCommit: UnseenCommit;

  constructor(
    private readonly store: InstructionStore,
    private readonly applier: Applier,
    private readonly events: TypedEmitter,
    private readonly logger: Logger,
    private readonly hooks: InstrumentationHooks,
    private readonly ownWrites: OwnWrites,
    private readonly settings: WriterSettings,
  ) {
    this.unseenCommit = new UnseenCommit(settings.executorCommitSignal, logger, settings);
  }

  /** Writes (or, inside `batch()`, gathers) already-validated instructions. */
  write(instructions: Instruction[], trx?: Knex.Transaction | Executor): Promise<WrittenRow> {
    if (trx) {
      return this.track(typeof trx === 'function' ? this.writeInTransaction(instructions, trx) : this.writeThrough(instructions, trx));
    }
    const open = openBatchOf(this);
    if (open) {
      // Not an async function, and one shared settled promise: a batch of 1,000 calls would
      // otherwise make 1,000 promises, each costly while AsyncLocalStorage tracks them.
      for (const instruction of instructions) gather(open, instruction);
      return GATHERED;
    }
    return this.track(this.writeNow(instructions));
  }

  /**
   * Gathers one id into the batch open here, if there is one, and says whether it did. The
   * commonest call inside `batch()` is `refresh(name, id)`; this path builds no instruction object
   * and no promise for it, and runs `check` (the registry's) only when the id starts a new run:
   * the run's refresher and kind were checked when it began, and refreshers are never removed.
   */
  gatherId(
    refresher: string,
    kind: 'refresh' | 'remove',
    id: CacheId,
    check: (refresher: string, kind: 'refresh' | 'remove') => void,
  ): Promise<WrittenRow> | undefined {
    const open = openBatchOf(this);
    if (!open) return undefined;
    // The common case, a run going on, in place: this runs once per call of a batch of thousands.
    if (continuesRun(open, refresher, kind)) open.tail!.ids.push(id);
    else {
      check(refresher, kind);
      gatherIds(open, refresher, kind, id);
    }
    return GATHERED;
  }

  /**
   * Runs `work` with a batch open and writes what it gathered as one row. Resolves to that row's
   * id (the cache makes it the batch's position token); undefined when nothing was gathered or the
   * batch joined one already open (which writes the row). `work`'s result is not kept: capture it.
   */
  async batch(work: () => unknown): Promise<WrittenRow> {
    const gathered = await gatherBatch(this, work);
    return gathered && gathered.length > 0 ? this.track(this.writeNow(gathered)) : undefined;
  }

  /**
   * Waits for every write in flight, their local applies included, for at most `timeoutMs`; then
   * abandons the local applies still retrying (a hung refresher), so no retry or timer of theirs
   * outlives stop(). Abandoned applies end at once and are waited for; an insert still in flight
   * (bounded by queryTimeout) or a transaction not yet committed is not.
   */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.inFlight.size > 0) {
      const left = deadline - performance.now();
      if (left <= 0 || !(await settleWithin(Promise.allSettled([...this.inFlight]), left))) {
        this.abandon.abort();
        break;
      }
    }
    while (this.abandon.signal.aborted && this.applies.size > 0) await Promise.allSettled([...this.applies]);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work)).catch(() => undefined);
    return work;
  }

  /** `withOrigin` false: no local apply will follow, so this server's poller must not skip the row. */
  private rows(instructions: Instruction[], withOrigin = true): BuiltRows {
    const { identity, instanceId, maxInstructionsPerRow, maxRowBytes } = this.settings;
    const originInstance = withOrigin ? instanceId : null;
    return instructionRows(instructions, { originated: identity, originInstance, maxInstructionsPerRow, maxRowBytes });
  }

  private async writeNow(instructions: Instruction[]): Promise<WrittenRow> {
    const { rows, coalesced, decoded } = this.rows(instructions);
    return this.hooks.write(
      () => this.info(rows, coalesced, false),
      async () => {
        const { rowIds, durationMs } = await this.insert(rows);
        const last = this.inserted(rowIds);
        await this.applyCommitted(rowIds, coalesced, decoded, durationMs, false);
        return last;
      },
    );
  }

  /** Reports the write's newest row id (onInserted) and returns it. */
  private inserted(rowIds: number[]): WrittenRow {
    if (rowIds.length === 0) return undefined;
    const last = Math.max(...rowIds);
    this.settings.onInserted?.(last);
    return last;
  }

  private async writeInTransaction(instructions: Instruction[], trx: Knex.Transaction): Promise<WrittenRow> {
    const { rows, coalesced, decoded } = this.rows(instructions);
    const { rowIds, durationMs } = await this.hooks.write(
      () => this.info(rows, coalesced, true),
      () => this.insert(rows, trx),
    );
    const last = this.inserted(rowIds);
    // The caller awaits this inside its transaction, so the local apply cannot wait here:
    // it runs when (and only if) the transaction commits.
    const applied = whenCommitted(trx).then(async (committed) => {
      if (committed) await this.applyCommitted(rowIds, coalesced, decoded, durationMs, true);
    });
    // Not awaited: the caller's transaction has not committed yet. stop() drains it.
    void this.track(applied);
    return last;
  }

  /**
   * Writes through a client library's transaction. The local apply and NOTIFY wait for the commit
   * as the library reports it (the executor's `afterCommit`), else for the `cache.transaction()`
   * around it. With neither, nothing here can tell a commit from a rollback: the row is written
   * with no origin instance and this server applies it from the log like every other server.
   */
  private async writeThrough(instructions: Instruction[], executor: Executor): Promise<WrittenRow> {
    const after = this.commitHook(executor);
    const { rows, coalesced, decoded } = this.rows(instructions, after !== undefined);
    const { rowIds, durationMs } = await this.hooks.write(
      () => this.info(rows, coalesced, true),
      async () => {
        const started = performance.now();
        try {
          const rowIds = await this.store.insertVia(executor, rows);
          if (after === undefined) await this.unseenCommit.signalAfter(executor);
          return { rowIds, durationMs: performance.now() - started };
        } catch (err) {
          throw this.failed(err);
        }
      },
    );
    const last = this.inserted(rowIds);
    after?.(() => this.track(this.applyCommitted(rowIds, coalesced, decoded, durationMs)));
    return last;
  }

  /** `writeThrough` for a synchronous executor: throws on failure, so the caller's transaction rolls back. */
  writeSync(instructions: Instruction[], executor: SyncExecutor): WrittenRow {
    const after = this.commitHook(executor);
    const { rows, coalesced, decoded } = this.rows(instructions, after !== undefined);
    const started = performance.now();
    let rowIds: number[];
    try {
      rowIds = this.store.insertViaSync(executor, rows);
      if (after === undefined) this.unseenCommit.signalAfterSync(executor);
    } catch (err) {
      if (err instanceof errors.InvalidOptionError) throw err;
      throw this.failed(err);
    }
    const durationMs = performance.now() - started;
    const last = this.inserted(rowIds);
    after?.(() => this.track(this.applyCommitted(rowIds, coalesced, decoded, durationMs)));
    return last;
  }

  private commitHook(executor: Executor): ((run: () => Promise<void>) => void) | undefined {
    if (typeof executor.afterCommit === 'function') return (run) => executor.afterCommit!(() => void run());
    const scope = commitScopeOf(this);
    return scope && ((run) => void scope.pending.push(run));
  }

  /** After the commit: the poller skips these rows, the other processes are woken, and they are applied here. */
  private async applyCommitted(
    rowIds: number[],
    coalesced: Instruction[],
    decoded: Instruction[],
    durationMs: number,
    inTransaction = true,
  ): Promise<void> {
    this.ownWrites.add(rowIds);
    this.settings.onCommitted?.();
    this.events.emitBuilt('instruction:written', () => written(rowIds, coalesced, inTransaction, durationMs));
    await this.applyLocally(decoded);
  }

  /**
   * Applies the decoded rows here, through the same coalescing as a reader's poll. The caller
   * waits for at most one refresherTimeout: a refresher that fails or hangs is retried, and then
   * replaced by its refreshAll(), in the background, and that outcome is emitted and recorded
   * as for any instruction (`instruction:applied`, `instruction:failed`, cache_failure).
   */
  private applyLocally(instructions: Instruction[]): Promise<void> {
    const applying = this.track(this.applier.apply({ instructions, source: 'local', signal: this.abandon.signal }));
    this.applies.add(applying);
    void applying.finally(() => this.applies.delete(applying)).catch(() => undefined);
    return settleWithin(applying, this.settings.refresherTimeout).then((settled) => {
      if (!settled) {
        this.logger.warn(
          { refreshers: [...new Set(instructions.map((i) => i.refresher))], refresherTimeout: this.settings.refresherTimeout },
          'the local apply of a write is still running after refresherTimeout; the write returns and the apply goes on in the background',
        );
      }
    });
  }

  private async insert(rows: NewInstructionRow[], trx?: Knex.Transaction): Promise<{ rowIds: number[]; durationMs: number }> {
    const started = performance.now();
    try {
      return { rowIds: await this.store.insert(rows, trx), durationMs: performance.now() - started };
    } catch (err) {
      throw this.failed(err);
    }
  }

  private info(rows: NewInstructionRow[], coalesced: Instruction[], inTransaction: boolean): WriteInfo {
    const { instructions, byRefresher } = written([], coalesced, inTransaction, 0);
    return { identity: this.settings.identity, rows: rows.length, instructions, byRefresher, inTransaction };
  }

  private failed(err: unknown): Error {
    const error = new errors.WriteFailedError(`could not write the cache instruction; nothing was applied: ${describeError(err)}`, {
      cause: err,
    });
    this.logger.warn({ err: describeError(err) }, 'cache instruction write failed');
    this.events.emit('write:error', { error });
    return error;
  }
}
