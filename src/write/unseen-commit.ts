import type { Logger } from '../logger.js';
import type { DialectStatement, Executor, SyncExecutor } from '../store/executor.js';

/**
 * For executor writes whose commit cannot be seen here (no `afterCommit`, no `cache.transaction()`):
 * 'commit' when the commit itself wakes every process, a statement to run in the caller's
 * transaction that does, or undefined (then a warning, once, says how long it may take and the fix).
 */
export type CommitSignal = () => 'commit' | DialectStatement | undefined;

/**
 * An executor write whose commit this server cannot see: every server, this one included, reads
 * it from the log. Without a signal at its commit that waits for each one's next poll (a 60×
 * slowdown over the wake-up, issue 24), so the commit must signal, or the app hears why once.
 */
export class UnseenCommit {
  /** The warning is given once per cache. */
  private warned = false;

  constructor(
    private readonly signal: CommitSignal | undefined,
    private readonly logger: Logger,
    private readonly context: { identity: string; syncInterval?: number },
  ) {}

  async signalAfter(executor: Executor): Promise<void> {
    const signal = this.signal?.();
    if (signal === 'commit') return;
    if (signal !== undefined && executor.dialect === signal.dialect) await executor.query(signal.text, signal.values);
    else this.warn();
  }

  signalAfterSync(executor: SyncExecutor): void {
    const signal = this.signal?.();
    if (signal === 'commit') return;
    if (signal !== undefined && executor.dialect === signal.dialect) executor.query(signal.text, signal.values);
    else this.warn();
  }

  private warn(): void {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn(
      { identity: this.context.identity, syncInterval: this.context.syncInterval },
      'a write through an executor outside cache.transaction(): nothing here sees its commit, so every server, this one ' +
        'included, applies it at its next poll (up to syncInterval later). Wrap the library transaction in ' +
        'cache.transaction(() => ...) to apply it here at commit and wake the other servers at once (docs/clients.md)',
    );
  }
}
