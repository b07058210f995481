import type { Logger } from '../logger.js';
import type { InstructionPage, InstructionStore } from '../store/store.js';

/**
 * Whether the position a poller holds belongs to the database it reads (see docs/operations.md).
 * A position is only meaningful in the history it was read from: after a dump restored elsewhere,
 * a promotion or a PITR the same text means something else, and adopting it loses instructions
 * silently. The page statement itself finds a position ahead of the database and rows of another
 * history (`historyBroken`); the database identity (PostgreSQL: system identifier and timeline) is
 * asked for only at start, after failed polls, and when the page's epoch says another server
 * process answered, so an idle poll stays one query.
 */
export class DatabaseHistory {
  /** The database identity the position was read from; null: unknown (SQLite, MySQL, an older cursor). */
  identity: string | null = null;
  /** The last page's databaseEpoch after a successful identity check. */
  private epoch: string | undefined;
  private checkDue = true;
  /** The last time the position was found not to belong to the database read. */
  lastChange: { at: Date; detail: string } | null = null;

  constructor(
    private readonly store: InstructionStore,
    private readonly logger: Logger,
    private readonly serverIdentity: string,
  ) {}

  /** After a failed poll: the database may come back as another one (a failover behind the same address). */
  failed(): void {
    this.checkDue = true;
  }

  /** Why `from` cannot belong to the database that answered `page` (a window's first page); null when it can. */
  async broken(page: InstructionPage, from: string): Promise<string | null> {
    return page.historyBroken ?? this.identityChange(page.databaseEpoch, from);
  }

  private async identityChange(epoch: string | undefined, from: string): Promise<string | null> {
    if (epoch === undefined || (!this.checkDue && epoch === this.epoch)) return null;
    const current = await this.store.databaseIdentity();
    this.epoch = epoch;
    this.checkDue = false;
    if (current === null || current === this.identity) return null;
    if (this.identity === null) {
      // A cursor stored by a version that did not record identities: nothing to compare with yet.
      this.logger.info({ databaseIdentity: current }, "recording the database identity with this server's cursor");
      this.identity = current;
      await this.store.saveCursor(this.serverIdentity, from, current);
      return null;
    }
    return `the cursor was read from database ${this.identity}, but the database is now ${current} (system identifier:timeline)`;
  }

  /**
   * Before the cold boot that follows a finding: re-stamps rows of the other history, so no server
   * applies them later as if new, and remembers what was found. Returns the detail to report.
   */
  async settle(detail: string): Promise<string> {
    const foreign = await this.store.foreignRows(true);
    const found = foreign > 0 ? `${detail}; ${foreign} rows of the other history were re-stamped as read` : detail;
    this.lastChange = { at: new Date(), detail: found };
    return found;
  }
}
