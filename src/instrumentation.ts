import type { InstructionKind } from './instructions/types.js';
import type { SyncResultEvent as SyncResult } from './events.js';

/**
 * Hooks the core calls around its own work, so a tracing span covers the real operation and what
 * runs inside it nests under it. Each hook must call `run` exactly once and return (or rethrow)
 * its outcome. Attach with `cache.instrument(hooks)`; `distcache/opentelemetry` is one user.
 */
export interface Instrumentation {
  /** Around one write: the insert and, outside a transaction, the local apply that follows it. */
  write?<T>(info: WriteInfo, run: () => Promise<T>): Promise<T>;
  /** Around one poll of the log (including a cold boot). */
  sync?(info: { identity: string }, run: () => Promise<SyncResult>): Promise<SyncResult>;
  /** Around one refresher method call (each retry and the refreshAll fallback are calls of their own). */
  refresher?<T>(info: RefresherCallInfo, run: () => Promise<T>): Promise<T>;
}

export interface WriteInfo {
  identity: string;
  rows: number;
  /** Summed instruction weight, as in `instruction:written`. */
  instructions: number;
  /** Weight per refresher id. */
  byRefresher: Readonly<Record<string, number>>;
  inTransaction: boolean;
}

export interface RefresherCallInfo {
  identity: string;
  refresher: string;
  kind: InstructionKind;
  /** The instruction's weight: ids, payloads, or 1 for refresh-all. */
  count: number;
  source: 'local' | 'remote';
  /** 0 for the first call, then 1, 2... for retries. */
  attempt: number;
  /** True when this is the refreshAll() fallback after another method failed. */
  fallback: boolean;
}

/**
 * The hooks attached to one cache. The writer, poller and applier call its methods; with nothing
 * attached each method just calls `run`; with several, the first attached is the outermost.
 */
export class InstrumentationHooks {
  private list: Instrumentation[] = [];

  /** Attaches hooks; returns the function that detaches them. */
  add(hooks: Instrumentation): () => void {
    this.list = [...this.list, hooks];
    return () => {
      this.list = this.list.filter((h) => h !== hooks);
    };
  }

  /** `info` is built only when hooks are attached: a write's summary costs a pass over its instructions. */
  write<T>(info: () => WriteInfo, run: () => Promise<T>): Promise<T> {
    if (this.list.length === 0) return run();
    const built = info();
    return this.wrap(run, (h, next) => (h.write ? h.write(built, next) : next()));
  }

  sync(info: { identity: string }, run: () => Promise<SyncResult>): Promise<SyncResult> {
    return this.wrap(run, (h, next) => (h.sync ? h.sync(info, next) : next()));
  }

  /** `info` is built only when hooks are attached, as for `write`. */
  refresher<T>(info: () => RefresherCallInfo, run: () => Promise<T>): Promise<T> {
    if (this.list.length === 0) return run();
    const built = info();
    return this.wrap(run, (h, next) => (h.refresher ? h.refresher(built, next) : next()));
  }

  private wrap<T>(run: () => Promise<T>, call: (hooks: Instrumentation, next: () => Promise<T>) => Promise<T>): Promise<T> {
    const list = this.list;
    if (list.length === 0) return run();
    let next = run;
    for (let i = list.length - 1; i >= 0; i--) {
      const inner = next;
      const hooks = list[i]!;
      next = () => call(hooks, inner);
    }
    return next();
  }
}
