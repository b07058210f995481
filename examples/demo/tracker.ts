import type { ServerMessage } from './messages.js';

/**
 * Follows the demo from the coordinator's side: which changes committed, which reached each
 * server, and how long that took. A server has caught up with a change once it applied that
 * product id at or after the change's commit.
 */
export class Tracker {
  readonly ready = new Set<string>();
  readonly applied = new Map<string, number>();
  written = 0;
  maxDelay = 0;
  /** Every delay from a commit to a remote apply of that id, in ms. */
  readonly delays: number[] = [];
  private readonly lastCommit = new Map<number, number>();
  private readonly lastApplied = new Map<string, Map<number, number>>();
  private readonly waiters = new Set<() => void>();
  private failure: Error | undefined;

  constructor(private readonly receivers: string[]) {
    for (const receiver of receivers) {
      this.applied.set(receiver, 0);
      this.lastApplied.set(receiver, new Map());
    }
  }

  handle(message: ServerMessage): void {
    if (message.type === 'ready') this.ready.add(message.identity);
    else if (message.type === 'committed') {
      this.written += 1;
      this.lastCommit.set(message.id, message.at);
    } else if (message.type === 'applied' && message.source === 'remote') {
      this.applied.set(message.identity, (this.applied.get(message.identity) ?? 0) + message.ids.length);
      for (const id of message.ids) {
        this.lastApplied.get(message.identity)?.set(id, message.at);
        const committed = this.lastCommit.get(id);
        if (committed !== undefined) {
          this.maxDelay = Math.max(this.maxDelay, message.at - committed);
          this.delays.push(message.at - committed);
        }
      }
    }
    this.waiters.forEach((wake) => wake());
  }

  fail(error: Error): void {
    this.failure = error;
    this.waiters.forEach((wake) => wake());
  }

  converged(): boolean {
    return this.receivers.every((receiver) => {
      const seen = this.lastApplied.get(receiver)!;
      return [...this.lastCommit].every(([id, at]) => (seen.get(id) ?? -Infinity) >= at);
    });
  }

  /** Resolves when `condition` holds after some message, or rejects at the deadline. */
  until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.failure) finish(this.failure);
        else if (condition()) finish();
      };
      const finish = (error?: Error) => {
        this.waiters.delete(check);
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => finish(new Error(`demo: timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}
