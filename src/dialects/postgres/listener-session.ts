import type pg from 'pg';
import { describeError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { quoteChannel } from './channel.js';

/**
 * One connected life of the listener's session: its statements, each bounded by the query
 * timeout, and the channels it LISTENs on. A statement that fails or does not answer in time kills
 * the session (the socket goes), so the listener's loop notices the end and reconnects with a new
 * one; nothing is retried on a session in an unknown state.
 */
export class ListenerSession {
  /** Channels LISTENed on this session. */
  readonly listened = new Set<string>();
  /** The backend pid that ran each channel's LISTEN: behind a transaction pooler, not the connection's. */
  readonly listenedOn = new Map<string, number>();
  private dead = false;
  private reconciling: Promise<void> = Promise.resolve();

  constructor(
    readonly client: pg.Client,
    /** The backend pid the connection reported at startup (for pg_terminate_backend in tests). */
    readonly pid: number | undefined,
    private readonly queryTimeout: number,
    private readonly logger: Logger,
  ) {}

  get alive(): boolean {
    return !this.dead;
  }

  /** A statement on this session, bounded; a session that fails or does not answer in time is killed. */
  async query(sql: string): Promise<void> {
    try {
      await bounded(this.client.query(sql), sql.split(' ')[0] ?? 'query', this.queryTimeout);
    } catch (err) {
      this.kill(err);
      throw err;
    }
  }

  /** Runs `statement` and `select pg_backend_pid()` in one message (so on one server session); the pid. */
  async backendPidAfter(statement: string): Promise<number | undefined> {
    try {
      const work = this.client.query(`${statement}; select pg_backend_pid() as pid`);
      const results = (await bounded(work, statement.split(' ')[0] ?? 'query', this.queryTimeout)) as unknown;
      const last = Array.isArray(results) ? results[results.length - 1] : results;
      const pid = (last as { rows?: Array<{ pid?: unknown }> })?.rows?.[0]?.pid;
      return typeof pid === 'number' ? pid : undefined;
    } catch (err) {
      this.kill(err);
      throw err;
    }
  }

  /** LISTENs and UNLISTENs until this session listens on exactly `wanted`'s channels; one run at a time. */
  reconcile(wanted: { channels(): Iterable<string>; has(channel: string): boolean }): Promise<void> {
    const run = this.reconciling.then(async () => {
      if (this.dead) return;
      for (const channel of wanted.channels()) {
        if (this.listened.has(channel)) continue;
        // One message, so one server session even behind a pooler: the pid is the one that listens.
        const pid = await this.backendPidAfter(`listen ${quoteChannel(channel)}`);
        this.listened.add(channel);
        if (pid !== undefined) this.listenedOn.set(channel, pid);
      }
      for (const channel of [...this.listened]) {
        if (wanted.has(channel)) continue;
        await this.query(`unlisten ${quoteChannel(channel)}`);
        this.listened.delete(channel);
        this.listenedOn.delete(channel);
      }
    });
    this.reconciling = run.catch(() => undefined);
    return run;
  }

  /** Ends this session's life at once: the listener's loop sees the end and reconnects. */
  kill(err: unknown): void {
    if (this.dead) return;
    this.dead = true;
    this.logger.debug({ err: describeError(err) }, 'dropping the wake-up listener connection');
    destroy(this.client);
  }
}

/** `work`, or a rejection naming `what` when it takes longer than `ms`. */
export function bounded<T>(work: Promise<T>, what: string, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the wake-up listener got no answer ${what} within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Closes a session that may not answer: the socket goes, whatever state it is in. */
export function destroy(client: pg.Client): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  try {
    stream?.destroy();
  } catch {
    // already gone
  }
}
