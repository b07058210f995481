import { describeError, errors, fromDatabaseError } from '../errors.js';
import type { ColdBootReason, SyncResultEvent, TypedEmitter } from '../events.js';
import type { Logger } from '../logger.js';
import type { InstructionPage, InstructionStore } from '../store/store.js';
import type { Applier } from '../apply/applier.js';
import { BacklogGuard } from './backlog-guard.js';
import { ApplyBuffer, MAX_BUFFERED_WEIGHT } from './apply-buffer.js';
import { systemClock, type Clock } from '../util/timers.js';
import { PollLoop } from './poll-loop.js';
import { StoredCursor, type HeartbeatCursorSave } from './stored-cursor.js';
import { settleWithin } from '../util/async.js';
import type { InstrumentationHooks } from '../instrumentation.js';
import type { OwnWrites } from '../apply/own-writes.js';
import { DatabaseHistory } from './position-check.js';
import { ColdBoot } from './cold-boot.js';
import { collectPageRows, type PageReader } from './page-rows.js';

export interface PollerSettings {
  identity: string;
  /** This DistributedCache instance; rows it wrote were applied at write time. */
  instanceId: string;
  syncInterval: number;
  pageSize: number;
  maxPendingInstructions: number;
  startFromHead: boolean;
  maxErrorBackoff: number;
  /** See the wakeThrottle option. @default 0 */
  wakeThrottle?: number;
  onColdBoot?: (context: { reason: ColdBootReason }) => void | Promise<void>;
  /** An idle server rewrites its cursor every few intervals (see StoredCursor). @default true */
  idleCursorSaves?: boolean;
  /** A busy cursor is stored by the heartbeat, in its transaction (see StoredCursor). @default false */
  cursorInHeartbeat?: boolean;
  /** @default the system clock; tests step a manual one. */
  clock?: Clock;
}

/** What one `sync()` did. */
export type SyncResult = SyncResultEvent;

/**
 * Reads the log past this server's cursor, applies it, and stores the cursor. One poll runs at
 * a time: concurrent `sync()` calls share the poll in flight, plus at most one that follows it, so
 * every caller sees everything committed before it called, and nothing races on the cursor.
 */
export class Poller {
  private position: string | undefined;
  private current: Promise<SyncResult> | undefined;
  private next: Promise<SyncResult> | undefined;
  /** When the next poll runs: interval, backoff, wake-ups. */
  private readonly loop: PollLoop;
  /** When the position is written to the database. */
  private readonly cursor: StoredCursor;
  /** After stop(): a poll still in flight sends no further query. */
  private closed = false;
  lastSuccess: Date | null = null;
  lastError: { at: Date; message: string } | null = null;
  /** Whether `position` belongs to the database read; see position-check.ts. */
  private readonly history: DatabaseHistory;
  /** Cold boots, and the first start without a cursor; see cold-boot.ts. */
  private readonly boot: ColdBoot;
  /** How a page's rows are decoded; see page-rows.ts. */
  private readonly reader: PageReader;

  constructor(
    private readonly store: InstructionStore,
    private readonly applier: Applier,
    private readonly events: TypedEmitter,
    logger: Logger,
    private readonly hooks: InstrumentationHooks,
    private readonly ownWrites: OwnWrites,
    private readonly settings: PollerSettings,
  ) {
    const clock = settings.clock ?? systemClock;
    this.reader = { instanceId: settings.instanceId, ownWrites, applier };
    this.history = new DatabaseHistory(store, logger, settings.identity);
    this.loop = new PollLoop(() => this.shared(), events, logger, { ...settings, clock });
    this.cursor = new StoredCursor(
      store,
      settings.identity,
      settings.syncInterval,
      () => this.open(),
      settings.idleCursorSaves ?? true,
      settings.cursorInHeartbeat ?? false,
    );
    this.boot = new ColdBoot(store, applier, events, logger, settings, {
      open: () => this.open(),
      adopt: (head, databaseIdentity, saveWanted) => {
        this.position = head;
        this.history.identity = databaseIdentity;
        this.cursor.stored(saveWanted, head);
      },
      settle: (detail) => this.history.settle(detail),
    });
  }

  /** The last time this server found its cursor did not belong to the database it reads; for health(). */
  get lastDatabaseChange(): { at: Date; detail: string } | null {
    return this.history.lastChange;
  }

  /**
   * Polls now, and stores the cursor at its end. Rejects when the poll fails; the background loop
   * keeps going either way.
   */
  sync(): Promise<SyncResult> {
    this.cursor.request();
    return this.shared();
  }

  /**
   * sync() without asking for the cursor to be stored: resolves once a poll that saw everything
   * committed before this call has been applied (for cache.waitFor()).
   */
  catchUp(): Promise<SyncResult> {
    return this.shared();
  }

  /** The poll in flight, or one after it: what sync() and the loop share. */
  private shared(): Promise<SyncResult> {
    if (!this.current) {
      this.current = this.pollOnce().finally(() => {
        this.current = undefined;
      });
      return this.current;
    }
    if (!this.next) {
      this.next = this.current
        .catch(() => undefined)
        .then(() => {
          this.next = undefined;
          return this.shared();
        });
    }
    return this.next;
  }

  /** Starts the background loop; the first poll runs after `firstDelayMs`. */
  start(firstDelayMs = this.settings.syncInterval): void {
    if (this.closed) return;
    this.loop.start(firstDelayMs);
  }

  /**
   * Stops the loop and waits (at most `timeoutMs`) for the poll in flight. Once it resolves no
   * timer of the loop is left, and a poll still running (a refresher past the timeout) sends no
   * further query: it rejects at its next one.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.loop.halt();
    const inFlight = this.next ?? this.current;
    if (inFlight) await settleWithin(inFlight, timeoutMs);
    this.closed = true;
  }

  /**
   * Polls as soon as possible, e.g. on a NOTIFY; the interval stays as the safety net. Wakes
   * coalesce: any number of them before the loop's next poll makes that one poll (the timer moves
   * to the next turn of the event loop), and any number during a loop poll makes one more after it.
   */
  wake(): void {
    this.loop.wake();
  }

  /** Every query of a poll goes through here, so none is sent after stop() resolved. */
  private open(): void {
    if (this.closed)
      throw new errors.StoppedError('this DistributedCache was stopped while the poll was running; the rest of the poll was not run');
  }

  private async pollOnce(): Promise<SyncResult> {
    const started = performance.now();
    const saveWanted = this.cursor.requests;
    this.ownWrites.expire();
    try {
      const result = await this.hooks.sync({ identity: this.settings.identity }, () => this.poll(started, saveWanted));
      this.lastSuccess = new Date();
      this.events.emit('sync:complete', result);
      return result;
    } catch (err) {
      this.lastError = { at: new Date(), message: describeError(err) };
      this.history.failed();
      throw fromDatabaseError(err);
    }
  }

  private async poll(started: number, saveWanted: number): Promise<SyncResult> {
    const { identity } = this.settings;
    const result = { rows: 0, instructions: 0, skippedOwn: 0, malformed: 0, coldBoot: null as ColdBootReason | null };
    if (this.position === undefined) {
      this.open();
      const stored = await this.store.loadCursor(identity);
      if (!stored) {
        const first = await this.boot.firstStart(saveWanted);
        result.coldBoot = first.coldBoot;
        return this.finish(result, started, first.position);
      }
      this.position = stored.position;
      this.cursor.loaded(stored.position);
      this.history.identity = stored.databaseIdentity;
    }
    const from = this.position;
    let position: string = from;
    this.open();
    let page = await this.store.readPage(identity, from, null, this.settings.pageSize);
    // Before anything is applied or stored: a position of another database proves nothing here.
    this.open();
    const changed = await this.history.broken(page, from);
    if (changed !== null) {
      result.coldBoot = 'database-changed';
      return this.finish(result, started, await this.boot.databaseChanged(changed, saveWanted));
    }
    if (page.coldBootRequested !== false) {
      // true: a prune deleted rows this server had not read, or an operator asked for a resync.
      // null: the cursor row is gone (`servers forget`), so nothing proves what was read.
      result.coldBoot = page.coldBootRequested ? 'requested' : 'no-cursor';
      return this.finish(result, started, await this.boot.run(result.coldBoot, null, saveWanted));
    }
    // Rows, not the stored instruction_count a writer chooses: every row a server writes carries at
    // least one instruction, so a backlog of more rows than maxPendingInstructions is too far behind.
    // Shorter ones are read, and BacklogGuard counts what they decode to, per refresher.
    if (page.token !== null) {
      this.open();
      const rows = (await this.store.pending(position)).rows;
      if (rows > this.settings.maxPendingInstructions) {
        result.coldBoot = 'too-far-behind';
        return this.finish(result, started, await this.boot.run('too-far-behind', rows, saveWanted));
      }
    }
    const guard = new BacklogGuard(this.settings.maxPendingInstructions);
    // Instructions gather across pages and are applied together, so a backlog coalesces per
    // refresher as a whole (10,000 refreshes of one id become one call); the buffer is bounded,
    // and the cursor is stored only after what it covers has been applied.
    const buffer = new ApplyBuffer();
    for (;;) {
      // A full page means more is waiting: the next page is read while this one is decoded and
      // applied, so a catch-up pays the database's time or ours per page, not both. Pages are still
      // applied in order, and the token alone says where the next one starts.
      const next = page.token === null ? undefined : this.prefetch(from, page.token);
      await collectPageRows(this.reader, page.rows, buffer, result, guard);
      if (page.position !== null) position = page.position;
      if (next === undefined) break;
      if (buffer.weight >= MAX_BUFFERED_WEIGHT) {
        await this.flush(buffer, result, guard);
        if (page.position !== null) await this.save(position, true, saveWanted);
      }
      page = await next;
    }
    await this.flush(buffer, result, guard);
    await this.save(position, result.rows > 0, saveWanted);
    return this.finish(result, started, position);
  }

  /** Starts reading the page after `token`. A failure surfaces when awaited; the no-op handler
   * keeps one that comes before the await from ending the process as an unhandled rejection. */
  private prefetch(from: string, token: string): Promise<InstructionPage> {
    this.open();
    const next = this.store.readPage(this.settings.identity, from, token, this.settings.pageSize);
    next.catch(() => undefined);
    return next;
  }

  private async flush(buffer: ApplyBuffer, result: { instructions: number }, guard?: BacklogGuard): Promise<void> {
    for (const { instruction, rowId } of guard?.refreshAlls() ?? []) buffer.add([instruction], rowId);
    if (buffer.instructions.length === 0) return;
    const { instructions, rowIds } = buffer.take();
    result.instructions += await this.applier.apply({ instructions, rowIds, source: 'remote' });
  }

  /** Moves the position, and stores the cursor when due (see StoredCursor.save). */
  private async save(position: string, read: boolean, saveWanted: number): Promise<void> {
    this.position = position;
    await this.cursor.save(position, read, saveWanted);
  }

  /** The cursor save the next heartbeat carries, if due; see StoredCursor.forHeartbeat. */
  cursorForHeartbeat(): HeartbeatCursorSave | undefined {
    return this.closed ? undefined : this.cursor.forHeartbeat();
  }

  /** After the heartbeat's transaction; see StoredCursor.heartbeatSaved. */
  cursorSavedByHeartbeat(save: HeartbeatCursorSave, written: boolean): void {
    this.cursor.heartbeatSaved(save, written);
  }

  /** Stores the cursor if the position moved since it was last stored; for stop(). */
  async flushCursor(): Promise<void> {
    await this.cursor.flush(this.position);
  }

  private finish(result: Omit<SyncResult, 'position' | 'durationMs'>, started: number, position: string): SyncResult {
    return { ...result, position, durationMs: performance.now() - started };
  }

  /** The position this instance has applied up to, if known. */
  get appliedPosition(): string | undefined {
    return this.position;
  }
}
