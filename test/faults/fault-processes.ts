import { fork, type ChildProcess } from 'node:child_process';
import type { FaultChecker } from './fault-checker.js';
import { LogReader, type FaultEvent } from './fault-log.js';
import type { FaultChildMessage, FaultParentMessage, FaultServerSettings } from './fault-server.js';
import type { FaultWriterSettings } from './fault-writer.js';
import { waitFor } from '../support/wait.js';

/**
 * A fault-test child process (a server or a writer) as the parent sees it: its IPC hints, and
 * whether it ended because we killed or stopped it, or crashed on its own (a failure).
 */
export class FaultProcess {
  readonly process: ChildProcess;
  readonly messages: FaultChildMessage[] = [];
  readonly exited: Promise<void>;
  private ending: 'killed' | 'stopped' | undefined;
  private waiters: Array<{ type: FaultChildMessage['type']; resolve: () => void }> = [];
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(
    readonly kind: 'server' | 'writer',
    readonly name: string,
    settings: FaultServerSettings | FaultWriterSettings,
  ) {
    const script = new URL(kind === 'server' ? './fault-server.js' : './fault-writer.js', import.meta.url);
    this.process = fork(script, [JSON.stringify(settings)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.process.on('message', (message: FaultChildMessage) => {
      this.messages.push(message);
      this.waiters = this.waiters.filter((w) => (w.type === message.type ? (w.resolve(), false) : true));
    });
    this.process.on('error', () => undefined);
    this.exited = new Promise((resolve) =>
      this.process.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.process.pid!;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** Exited without being killed or stopped by the test, or stopped with an error. */
  get crashed(): boolean {
    if (this.exit === undefined) return false;
    if (this.ending === 'killed') return false;
    return this.ending !== 'stopped' || this.exit.code !== 0;
  }

  get started(): boolean {
    return this.messages.some((m) => m.type === 'started');
  }

  /** Resolves true at the next message of `type`, false after `timeoutMs` or if the process exits. */
  next(type: FaultChildMessage['type'], timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      const done = (value: boolean) => {
        clearTimeout(timer);
        resolve(value);
      };
      this.waiters.push({ type, resolve: () => done(true) });
      void this.exited.then(() => done(false));
    });
  }

  async waitStarted(timeoutMs = 30_000): Promise<void> {
    if (this.started) return;
    if (!(await this.next('started', timeoutMs)) && !this.started)
      throw new Error(`${this.name} (pid ${this.pid}) did not start within ${timeoutMs} ms; exit ${JSON.stringify(this.exit)}`);
  }

  send(message: FaultParentMessage): void {
    try {
      this.process.send(message);
    } catch {
      // already gone
    }
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    this.ending = 'killed';
    this.process.kill('SIGKILL');
    await this.exited;
  }

  /** A clean stop, bounded; a process that does not stop in time is killed and counts as crashed. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.alive) return;
    this.ending = 'stopped';
    this.send({ type: 'stop' });
    const timer = setTimeout(() => {
      this.ending = undefined;
      this.process.kill('SIGKILL');
    }, timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Feeds one process family's event log (a server identity's or a writer's, across all its
 * processes) into the checker, incrementally.
 */
export class LogFeed {
  private readonly reader: LogReader;
  readonly events: FaultEvent[] = [];

  constructor(
    readonly name: string,
    file: string,
    private readonly checker: FaultChecker,
  ) {
    this.reader = new LogReader(file);
  }

  pump(): void {
    for (const e of this.reader.read()) {
      this.events.push(e);
      switch (e.t) {
        case 'applied':
          this.checker.applied(this.name, e.pid, e.key, e.at);
          break;
        case 'cold-boot':
          this.checker.cover({ server: this.name, pid: e.pid, at: e.at, position: e.position, reason: 'cold-boot' });
          break;
        case 'attempt':
        case 'holding':
          this.checker.attempted(e.key);
          break;
        case 'committed':
          this.checker.committed(e.key, { at: e.at });
          break;
        case 'rolled-back':
          this.checker.rolledBack(e.key);
          break;
      }
    }
  }

  /** How the process `pid` was caught when it died: mid-apply, before it had started, or between. */
  momentOfDeath(pid: number): 'mid-apply' | 'starting' | 'idle' {
    const mine = this.events.filter((e) => e.pid === pid);
    if (!mine.some((e) => e.t === 'started')) return 'starting';
    for (let i = mine.length - 1; i >= 0; i--) {
      const t = mine[i]!.t;
      if (t === 'apply-end') return 'idle';
      if (t === 'apply-begin') return 'mid-apply';
    }
    return 'idle';
  }
}

/**
 * Waits until the fleet has worked under load since this call: every server named in `servers`
 * has finished `syncs` polls and the writers together have committed `commits` writes. Fault
 * scenarios use it instead of "let it run for a while", so a slow machine still gets the same
 * amount of work between two faults.
 */
export async function untilWorked(
  feeds: ReadonlyMap<string, LogFeed>,
  want: { servers: readonly string[]; writers: readonly string[]; syncs: number; commits: number; timeout?: number },
): Promise<void> {
  const since = Date.now();
  const count = (name: string, t: FaultEvent['t']) => feeds.get(name)?.events.filter((e) => e.t === t && e.at >= since).length ?? 0;
  const progress = () => ({
    syncs: Object.fromEntries(want.servers.map((s) => [s, count(s, 'sync-ok')])),
    commits: want.writers.reduce((sum, w) => sum + count(w, 'committed'), 0),
  });
  await waitFor(
    () => {
      feeds.forEach((f) => f.pump());
      const p = progress();
      return p.commits >= want.commits && want.servers.every((s) => p.syncs[s]! >= want.syncs);
    },
    { timeout: want.timeout ?? 60_000, interval: 20, describe: () => `work since the mark: ${JSON.stringify(progress())}` },
  );
}
