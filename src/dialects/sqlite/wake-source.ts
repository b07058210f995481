import { resolve } from 'node:path';
import type { Knex } from 'knex';
import { SharedResources } from '../../wake/shared.js';
import type { WakeSource, WakeSourceConfig } from '../../wake/wake-source.js';
import { WalWatcher, type WalWatcherSettings } from './wal-watcher.js';

const watchers = new SharedResources<WalWatcher>();

/** How many database watches this process holds open; tests check that none leaks. */
export function openWatcherCount(): number {
  return watchers.size;
}

/** The database file behind a better-sqlite3 knex, or undefined for an in-memory database. */
export function sqliteFileOf(knex: Knex): string | undefined {
  const connection = (knex.client as { config?: { connection?: { filename?: unknown } } }).config?.connection;
  const filename = connection?.filename;
  if (
    typeof filename !== 'string' ||
    filename === '' ||
    filename === ':memory:' ||
    filename.startsWith('file:') ||
    filename.includes('mode=memory')
  ) {
    return undefined;
  }
  return resolve(filename);
}

/**
 * A wake-up hint for several processes sharing one SQLite file on one machine: a watch on the
 * file and its `-wal` (fs.watch: inotify on Linux), shared by every cache of this process on
 * that file. Every commit appends to the WAL, so every commit is seen, plain SQL writers too.
 *
 * Only a hint, by design: fs.watch is not reliable everywhere (network file systems, some
 * container bind mounts and VM shared folders deliver no events, and macOS may delay them), so
 * the poll interval stays the guarantee. It also wakes on this process's own writes and on
 * cursor and heartbeat writes, each costing one cheap poll.
 */
export class SqliteWakeSource implements WakeSource {
  readonly kind = 'sqlite-wal-watch' as const;
  readonly commitWakes = true;
  private watcher: WalWatcher | undefined;
  private onWake: (() => void) | undefined;
  private state: 'new' | 'started' | 'stopped' = 'new';

  constructor(
    private readonly file: string,
    private readonly config: Pick<WakeSourceConfig, 'logger'>,
    private readonly options: Omit<WalWatcherSettings, 'logger'> = {},
  ) {}

  async start(onWake: () => void): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'started';
    this.onWake = onWake;
    this.watcher = watchers.acquire(this.file, () => new WalWatcher(this.file, { logger: this.config.logger, ...this.options }));
    this.watcher.subscribe(onWake);
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    const { watcher, onWake } = this;
    if (!watcher || !onWake) return;
    watcher.unsubscribe(onWake);
    await watchers.release(this.file, watcher);
  }

  /** The commit itself changes the WAL, which is what the other processes watch. */
  notifyCommitted(): void {}

  get listening(): boolean {
    return this.state === 'started' && this.watcher !== undefined && this.watcher.watching;
  }

  /** Change events this process's watch has seen on the file; for tests. */
  get changeEvents(): number {
    return this.watcher?.events ?? 0;
  }
}

/** A source for the knex's database file, or undefined for an in-memory database (nothing to watch, and no other process to hear from). */
export function createSqliteWakeSource(
  config: WakeSourceConfig,
  options?: Omit<WalWatcherSettings, 'logger'>,
): SqliteWakeSource | undefined {
  const file = sqliteFileOf(config.knex);
  return file === undefined ? undefined : new SqliteWakeSource(file, config, options);
}
