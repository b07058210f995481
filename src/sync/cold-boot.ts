import type { Applier } from '../apply/applier.js';
import type { ColdBootReason, TypedEmitter } from '../events.js';
import type { Logger } from '../logger.js';
import type { InstructionStore } from '../store/store.js';

/** The poller's settings a cold boot reads (PollerSettings has them). */
export interface ColdBootSettings {
  identity: string;
  startFromHead: boolean;
  onColdBoot?: (context: { reason: ColdBootReason }) => void | Promise<void>;
}

/** What a cold boot needs of the poller it serves. */
export interface ColdBootPoller {
  /** Throws if the poller was stopped: a poll still in flight sends no further query. */
  open(): void;
  /** Makes `head` the poller's position, read from the database with this identity, stored now. */
  adopt(head: string, databaseIdentity: string | null, saveWanted: number): void;
  /** Records that the position does not belong to the database read; returns what was found. */
  settle(detail: string): Promise<string>;
}

/**
 * Cold boot: every refresher's refreshAll() (or the application's onColdBoot) instead of the
 * rows, and the cursor moved to the head taken before the reload. Also a first start without a
 * stored cursor, which starts at the head when the log is empty or `startFromHead` says so.
 */
export class ColdBoot {
  constructor(
    private readonly store: InstructionStore,
    private readonly applier: Applier,
    private readonly events: TypedEmitter,
    private readonly logger: Logger,
    private readonly settings: ColdBootSettings,
    private readonly poller: ColdBootPoller,
  ) {}

  /**
   * The cursor does not belong to this database: rows of the other history are re-stamped first
   * (so no server applies them later as if new), the finding is recorded, and the server cold-boots.
   */
  async databaseChanged(detail: string, saveWanted: number): Promise<string> {
    this.poller.open();
    const found = await this.poller.settle(detail);
    this.logger.warn({ detail: found }, "the database changed under this server's cursor; cold boot");
    await this.applier.record({
      identity: this.settings.identity,
      instructionId: null,
      refresher: null,
      kind: null,
      action: 'cold-boot-database-changed',
      error: found,
      detail: null,
    });
    return this.run('database-changed', null, saveWanted, found);
  }

  /** With no stored cursor: an empty log (a fresh install) or `startFromHead` start at the head; otherwise cold-boot. */
  async firstStart(saveWanted: number): Promise<{ position: string; coldBoot: ColdBootReason | null }> {
    // The head first: a row committed after it is read by the next poll, whereas a head taken
    // after the emptiness check could cover a row committed in between that nobody applies.
    this.poller.open();
    const databaseIdentity = await this.store.databaseIdentity();
    this.poller.open();
    const head = await this.store.head();
    this.poller.open();
    const empty = (await this.store.newest(1)).length === 0;
    if (empty || this.settings.startFromHead) {
      this.poller.open();
      await this.store.resetCursor(this.settings.identity, head, databaseIdentity);
      this.poller.adopt(head, databaseIdentity, saveWanted);
      return { position: head, coldBoot: null };
    }
    return { position: await this.run('no-cursor', null, saveWanted), coldBoot: 'no-cursor' };
  }

  async run(reason: ColdBootReason, pendingInstructions: number | null, saveWanted: number, detail?: string): Promise<string> {
    // The head is taken first: anything committed while caches reload is read again afterwards.
    this.poller.open();
    const databaseIdentity = await this.store.databaseIdentity();
    this.poller.open();
    const head = await this.store.head();
    this.logger.info({ reason, pendingInstructions }, 'cold boot: refreshing every cache');
    if (this.settings.onColdBoot) await this.settings.onColdBoot({ reason });
    else await this.applier.refreshEverything();
    this.poller.open();
    await this.store.resetCursor(this.settings.identity, head, databaseIdentity);
    this.poller.adopt(head, databaseIdentity, saveWanted);
    this.events.emit('server:cold-boot', detail === undefined ? { reason, pendingInstructions } : { reason, pendingInstructions, detail });
    return head;
  }
}
