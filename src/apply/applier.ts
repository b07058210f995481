import { describeError, errors } from '../errors.js';
import type { TypedEmitter } from '../events.js';
import { coalesce } from '../instructions/coalesce.js';
import { instructionWeight, type Instruction } from '../instructions/types.js';
import type { Logger } from '../logger.js';
import { methodForKind, supports, type RefresherRegistry } from '../refreshers/registry.js';
import type { AnyCacheRefresher } from '../refreshers/refresher.js';
import type { FailureAction, InstructionStore, NewFailure, StoredInstructionRow } from '../store/store.js';
import { readRow, type ReadRow, type RowReaderContext } from './row-reader.js';
import type { InstrumentationHooks } from '../instrumentation.js';
import { isRejectedPayloadError } from '../refreshers/payload-schema.js';
import { callWithRetries, type RefresherCallContext } from './refresher-call.js';
import { summarize } from './failure-detail.js';

export interface ApplierSettings {
  identity: string;
  refresherTimeout: number;
  refresherRetries: number;
  retryDelay: number;
}

/** Instructions to apply, with the rows they came from (empty for local writes). */
export interface ApplyBatch {
  instructions: Instruction[];
  /** For each instruction, the row it came from. */
  rowIds?: number[];
  source: 'local' | 'remote';
  /** Already coalesced, so the applier need not do it again. */
  coalesced?: boolean;
  /**
   * Aborted when stop() stops waiting for this batch: retries end at once, with no fallback and
   * no record (stop() sends no more queries); the log line and `instruction:failed` say so.
   */
  signal?: AbortSignal;
}

/**
 * Runs instructions through the refreshers. A failing call is retried with backoff; then the
 * refresher's refreshAll() is tried, a correct if costly recovery; if that fails too, the failure
 * is recorded in the failure table and emitted. Nothing here throws: one bad instruction never
 * stops the rest, and the poller's cursor always moves on.
 */
export class Applier {
  constructor(
    private readonly registry: RefresherRegistry,
    private readonly store: InstructionStore,
    private readonly events: TypedEmitter,
    private readonly logger: Logger,
    hooks: InstrumentationHooks,
    private readonly settings: ApplierSettings,
  ) {
    this.callContext = { identity: settings.identity, settings, hooks };
  }

  private readonly callContext: RefresherCallContext;

  /** Applies a batch; returns the summed weight of what was applied (or recovered). */
  async apply(batch: ApplyBatch): Promise<number> {
    // Rows that contributed to each refresher's instructions, for failure records.
    const rowsByRefresher = new Map<string, Set<number>>();
    const known: Instruction[] = [];
    // Unknown refresher names, grouped by row: one row naming 5,000 of them made 5,000 records, log
    // lines and metric series on every server. Now one of each per row.
    const unknown = new Map<number | undefined, Instruction[]>();
    batch.instructions.forEach((instruction, index) => {
      const rowId = batch.rowIds?.[index];
      if (!this.registry.get(instruction.refresher)) {
        const list = unknown.get(rowId);
        if (list) list.push(instruction);
        else unknown.set(rowId, [instruction]);
        return;
      }
      known.push(instruction);
      if (rowId !== undefined) {
        let set = rowsByRefresher.get(instruction.refresher);
        if (!set) rowsByRefresher.set(instruction.refresher, (set = new Set()));
        set.add(rowId);
      }
    });
    let applied = 0;
    for (const instruction of batch.coalesced ? known : coalesce(known)) {
      const refresher = this.registry.get(instruction.refresher)!;
      const rowIds = [...(rowsByRefresher.get(instruction.refresher) ?? [])];
      await this.applyOne(refresher, instruction, rowIds, batch.source, batch.signal);
      applied += instructionWeight(instruction);
    }
    if (unknown.size > 0) await Promise.all([...unknown].map(([rowId, list]) => this.recordUnknown(list, rowId)));
    return applied;
  }

  /** refreshAll() on every refresher, each with the same retry rules; for cold boots. */
  async refreshEverything(): Promise<void> {
    for (const refresher of this.registry.all()) {
      await this.applyOne(refresher, { refresher: refresher.id, kind: 'refresh-all' }, [], 'remote');
    }
  }

  /** Decodes a row read from the log; see readRow. */
  readRow(row: StoredInstructionRow): ReadRow {
    this.rowContext ??= {
      identity: this.settings.identity,
      registry: this.registry,
      events: this.events,
      logger: this.logger,
      record: (f) => this.record(f),
    };
    return readRow(row, this.rowContext);
  }

  private rowContext: RowReaderContext | undefined;

  private async applyOne(
    refresher: AnyCacheRefresher,
    instruction: Instruction,
    rowIds: number[],
    source: 'local' | 'remote',
    signal?: AbortSignal,
  ): Promise<void> {
    const started = performance.now();
    let error: Error | undefined;
    if (supports(refresher, instruction.kind)) {
      error = await callWithRetries(this.callContext, refresher, instruction, source, false, signal);
      if (!error) {
        this.events.emitBuilt('instruction:applied', () => ({
          refresher: refresher.id,
          kind: instruction.kind,
          count: instructionWeight(instruction),
          source,
          rowIds,
          durationMs: performance.now() - started,
        }));
        return;
      }
    } else {
      // A row from a newer server version may carry a kind this refresher lacks.
      error = new errors.UnsupportedKindError(`refresher '${refresher.id}' has no ${methodForKind(instruction.kind)}() method`);
    }
    let action: FailureAction = 'gave-up';
    if (signal?.aborted) {
      this.abandoned(refresher, instruction, rowIds, error);
      return;
    }
    if (isRejectedPayloadError(error)) {
      // The payload itself is bad; refreshing everything would not make it good.
      action = 'rejected-payload';
    } else if (instruction.kind !== 'refresh-all') {
      const fallbackError = await callWithRetries(
        this.callContext,
        refresher,
        { refresher: refresher.id, kind: 'refresh-all' },
        source,
        true,
        signal,
      );
      if (signal?.aborted) {
        this.abandoned(refresher, instruction, rowIds, fallbackError ?? error);
        return;
      }
      if (!fallbackError) action = 'fell-back-to-refresh-all';
      else
        error = new Error(`${describeError(error)}; then refreshAll() failed too: ${describeError(fallbackError)}`, {
          cause: fallbackError,
        });
    }
    const log = action === 'gave-up' ? this.logger.error : this.logger.warn;
    log.call(
      this.logger,
      { refresher: refresher.id, kind: instruction.kind, rowIds, action, err: describeError(error) },
      'cache instruction could not be applied as written',
    );
    this.events.emit('instruction:failed', { refresher: refresher.id, kind: instruction.kind, action, error, rowIds });
    await this.record({
      identity: this.settings.identity,
      instructionId: rowIds[0] ?? null,
      refresher: refresher.id,
      kind: instruction.kind,
      action,
      error: describeError(error),
      detail: summarize(instruction, rowIds),
    });
  }

  /** stop() stopped waiting: the cache this instruction concerns may be stale, and nothing more is tried. */
  private abandoned(refresher: AnyCacheRefresher, instruction: Instruction, rowIds: number[], cause: Error | undefined): void {
    const method = `${methodForKind(instruction.kind)}()`;
    const message = `stop() abandoned the ${method} call of refresher '${refresher.id}' after stopTimeout: ${describeError(cause)}`;
    const error = new errors.StoppedError(message, { cause });
    const fields = { refresher: refresher.id, kind: instruction.kind, rowIds, action: 'gave-up', err: error.message };
    this.logger.error(fields, 'cache instruction abandoned at stop()');
    this.events.emit('instruction:failed', { refresher: refresher.id, kind: instruction.kind, action: 'gave-up', error, rowIds });
  }

  /** One record, log line and event for the unknown refreshers of one row: how many, and the first few names. */
  private async recordUnknown(list: Instruction[], rowId: number | undefined): Promise<void> {
    const names = [...new Set(list.map((i) => i.refresher))];
    const first = list[0]!;
    const shown = names
      .slice(0, 5)
      .map((n) => `'${n.slice(0, 64)}'`)
      .join(', ');
    const error = new errors.UnknownRefresherError(
      names.length === 1
        ? `no refresher with id ${shown} is registered on server '${this.settings.identity}'`
        : `${names.length} refresher ids are not registered on server '${this.settings.identity}': ` +
            `${shown}${names.length > 5 ? ', …' : ''}`,
    );
    this.logger.warn({ refresher: names[0], unknownRefreshers: names.length, rowId }, error.message);
    this.events.emit('instruction:failed', {
      refresher: first.refresher,
      kind: names.length === 1 ? first.kind : null,
      action: 'skipped-unknown-refresher',
      error,
      rowIds: rowId === undefined ? [] : [rowId],
    });
    await this.record({
      identity: this.settings.identity,
      instructionId: rowId ?? null,
      refresher: names.length === 1 ? first.refresher : null,
      kind: names.length === 1 && list.length === 1 ? first.kind : null,
      action: 'skipped-unknown-refresher',
      error: error.message,
      detail:
        list.length === 1
          ? summarize(first, rowId === undefined ? [] : [rowId])
          : `${list.length} instructions, ${names.length} refresher ids`,
    });
  }

  /** Records a failure; if even that fails (database down), the log line above is the record. */
  async record(failure: NewFailure): Promise<void> {
    try {
      await this.store.recordFailure(failure);
    } catch (err) {
      this.logger.error({ failure, err: describeError(err) }, 'could not record a failure in the failure table');
    }
  }
}
