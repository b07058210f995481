import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../../logger.js';
import { describeError } from '../../errors.js';
import { backoffDelay } from '../../util/backoff.js';

export interface WalWatcherSettings {
  logger: Logger;
  /** After a burst of changes, one more wake this long after the first, for a commit still being written. */
  settleMs?: number;
}

/**
 * Watches the directory of one SQLite database for changes to the database file or its `-wal`
 * file, and wakes its subscribers. The directory rather than the files: the `-wal` file comes
 * and goes as connections open and close, and a watch on a deleted file sees nothing more.
 *
 * A change event can arrive before the commit is complete (SQLite writes WAL frames, then
 * updates the shared-memory index, which raises no event), so each burst wakes twice: at once,
 * which is usually late enough, and `settleMs` later, which always is. Polls are cheap and
 * coalesced by the poller, so an extra wake costs one indexed query.
 */
export class WalWatcher {
  private readonly subscribers = new Set<() => void>();
  private readonly names: Set<string>;
  private readonly directory: string;
  private watcher: FSWatcher | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;
  private readonly settleMs: number;
  /** Change events seen for this database; for tests. */
  events = 0;

  constructor(
    readonly file: string,
    private readonly settings: WalWatcherSettings,
  ) {
    this.directory = dirname(file);
    const name = basename(file);
    this.names = new Set([name, `${name}-wal`]);
    this.settleMs = settings.settleMs ?? 5;
  }

  get watching(): boolean {
    return this.watcher !== undefined;
  }

  subscribe(onWake: () => void): void {
    this.subscribers.add(onWake);
    if (!this.watcher && !this.retryTimer) this.open();
  }

  unsubscribe(onWake: () => void): void {
    this.subscribers.delete(onWake);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.settleTimer);
    clearTimeout(this.retryTimer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private open(): void {
    if (this.closed) return;
    try {
      const watcher = watch(this.directory, { persistent: false }, (_event, name) => {
        // Some platforms give no name; then any change in the directory counts.
        if (name === null || this.names.has(String(name))) this.changed();
      });
      watcher.on('error', (err) => this.failed(watcher, err));
      this.watcher = watcher;
      this.failures = 0;
      // Anything committed before the watch began raised no event.
      this.wakeAll();
    } catch (err) {
      this.failed(undefined, err);
    }
  }

  /** A watch that failed (directory gone, too many watches) is tried again with backoff; polling covers the gap. */
  private failed(watcher: FSWatcher | undefined, err: unknown): void {
    watcher?.close();
    if (watcher && this.watcher !== watcher) return;
    this.watcher = undefined;
    if (this.closed) return;
    const retryInMs = backoffDelay(this.failures++, 500, 30_000);
    this.settings.logger.warn(
      { err: describeError(err), directory: this.directory, retryInMs },
      'distcache cannot watch the SQLite database for changes; polling continues',
    );
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.open();
    }, retryInMs);
    this.retryTimer.unref();
  }

  private changed(): void {
    this.events += 1;
    if (this.settleTimer) return;
    this.wakeAll();
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      this.wakeAll();
    }, this.settleMs);
    this.settleTimer.unref();
  }

  private wakeAll(): void {
    for (const onWake of this.subscribers) {
      try {
        onWake();
      } catch {
        // a hint; one subscriber's failure must not stop the others
      }
    }
  }
}
