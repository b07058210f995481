import { fork, type ChildProcess } from 'node:child_process';
import type { Knex } from 'knex';
import type { DialectName } from './databases.js';

/** What a child server is told (as JSON in argv). */
export interface ChildSettings {
  dialect: DialectName;
  /** SQLite only: the harness's database file; other dialects connect to their usual test database. */
  sqliteFile?: string;
  prefix: string;
  identity: string;
  cluster?: string;
  role?: 'auto' | 'single' | 'scheduling-publisher' | 'subscriber';
  heartbeatInterval: number;
  leaseDuration: number;
  staleServerTimeout: number;
}

type Role = 'single' | 'scheduling-publisher' | 'subscriber' | 'unknown';

export type ChildMessage =
  | { type: 'started'; instanceId: string; at: number }
  | { type: 'role'; previous: Role; role: Role; at: number }
  | { type: 'stopped'; at: number };

export type ParentMessage = { type: 'stop' };

/** A time span during which one process believed it was the publisher. */
export interface PublisherSpan {
  identity: string;
  from: number;
  to: number;
}

/** A cache server running in a child process, as the parent test sees it. */
export class ChildServer {
  readonly process: ChildProcess;
  readonly messages: ChildMessage[] = [];
  /** Set when the process was killed or stopped: the end of any span still open. */
  endedAt: number | undefined;
  readonly exited: Promise<void>;

  constructor(readonly settings: ChildSettings) {
    const script = new URL('./cluster-child.js', import.meta.url);
    this.process = fork(script, [JSON.stringify(settings)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.process.on('message', (message: ChildMessage) => this.messages.push(message));
    // A send to a process that just died must not crash the test run.
    this.process.on('error', () => undefined);
    this.exited = new Promise((resolve) => this.process.once('exit', () => resolve()));
  }

  get identity(): string {
    return this.settings.identity;
  }

  get started(): boolean {
    return this.messages.some((m) => m.type === 'started');
  }

  /** The role it last reported. */
  get role(): Role {
    const roles = this.messages.filter((m): m is Extract<ChildMessage, { type: 'role' }> => m.type === 'role');
    return roles[roles.length - 1]?.role ?? 'unknown';
  }

  get isPublisher(): boolean {
    return this.endedAt === undefined && (this.role === 'single' || this.role === 'scheduling-publisher');
  }

  /** When it last became publisher, by its report. */
  becamePublisherAt(): number | undefined {
    const spans = this.publisherSpans(Date.now());
    return spans[spans.length - 1]?.from;
  }

  kill(): void {
    this.endedAt ??= Date.now();
    this.process.kill('SIGKILL');
  }

  /** Asks for a clean stop() and waits for the process to exit. */
  async stop(): Promise<void> {
    if (this.endedAt !== undefined || this.process.exitCode !== null || this.process.signalCode !== null) {
      await this.exited;
      return;
    }
    this.process.send({ type: 'stop' } satisfies ParentMessage);
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
    this.endedAt ??= Date.now();
  }

  /** Every span this process believed it was the publisher; an open span ends at its kill, or at `now`. */
  publisherSpans(now: number): PublisherSpan[] {
    const spans: PublisherSpan[] = [];
    let open: number | undefined;
    for (const m of this.messages) {
      if (m.type !== 'role') continue;
      const publishing = m.role === 'single' || m.role === 'scheduling-publisher';
      if (publishing && open === undefined) open = m.at;
      if (!publishing && open !== undefined) {
        spans.push({ identity: this.identity, from: open, to: m.at });
        open = undefined;
      }
    }
    if (open !== undefined) spans.push({ identity: this.identity, from: open, to: this.endedAt ?? now });
    return spans;
  }
}

/** The SQLite file behind a harness's knex, so a child opens the same database. */
export function sqliteFileOf(knex: Knex): string | undefined {
  const connection = (knex.client as { config?: { connection?: { filename?: string } } }).config?.connection;
  return connection?.filename;
}

/** Pairs of spans from different processes that overlap in time: two publishers at once. */
export function overlaps(spans: readonly PublisherSpan[]): Array<[PublisherSpan, PublisherSpan]> {
  const found: Array<[PublisherSpan, PublisherSpan]> = [];
  for (let i = 0; i < spans.length; i++) {
    for (let j = i + 1; j < spans.length; j++) {
      const a = spans[i]!;
      const b = spans[j]!;
      if (a.identity !== b.identity && a.from < b.to && b.from < a.to) found.push([a, b]);
    }
  }
  return found;
}
