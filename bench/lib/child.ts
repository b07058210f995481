import { fork, type ChildProcess } from 'node:child_process';

/** A benchmark child process (a compiled script under dist/bench/children), talking over IPC. */
export class Child<In = unknown, Out = unknown> {
  readonly process: ChildProcess;
  private readonly waiting: Array<{ match: (m: Out) => boolean; resolve: (m: Out) => void }> = [];
  readonly messages: Out[] = [];
  readonly exited: Promise<number | null>;

  constructor(script: string, args: unknown, execArgv: string[] = []) {
    const url = new URL(`../children/${script}.js`, import.meta.url);
    // DISTCACHE_BENCH_CHILD_ARGV adds flags to every child, e.g. '--cpu-prof --cpu-prof-dir=.tmp/prof'
    // to profile the scenario itself (Node refuses --cpu-prof in NODE_OPTIONS).
    const extra = process.env.DISTCACHE_BENCH_CHILD_ARGV?.split(' ').filter(Boolean) ?? [];
    this.process = fork(url, [JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [...execArgv, ...extra] });
    this.process.on('message', (message: Out) => {
      this.messages.push(message);
      for (const w of [...this.waiting]) {
        if (w.match(message)) {
          this.waiting.splice(this.waiting.indexOf(w), 1);
          w.resolve(message);
        }
      }
    });
    this.process.on('error', () => undefined);
    this.exited = new Promise((resolve) => this.process.once('exit', (code) => resolve(code)));
  }

  send(message: In): void {
    this.process.send(message as object);
  }

  /** The next message (or one already received) that matches. */
  when<T extends Out>(match: (m: Out) => m is T, timeoutMs = 600_000): Promise<T> {
    const seen = this.messages.find(match);
    if (seen) {
      this.messages.splice(this.messages.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child ${this.process.pid}: no matching message within ${timeoutMs} ms`)), timeoutMs);
      void this.exited.then((code) => reject(new Error(`child ${this.process.pid} exited (${code}) before sending the message`)));
      this.waiting.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          const i = this.messages.indexOf(m);
          if (i >= 0) this.messages.splice(i, 1);
          resolve(m as T);
        },
      });
    });
  }

  kill(): void {
    this.process.kill('SIGKILL');
  }
}

/** Arguments a child was started with. */
export function childArgs<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}
