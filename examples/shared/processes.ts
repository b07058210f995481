import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Small helpers the examples share to run several servers on one machine. Nothing here is part of
 * distcache: in production each server is its own process, container or machine.
 */

export interface ServerProcess {
  name: string;
  url: string;
  /** Asks the server to stop (cache.stop(), then close); resolves with its exit code. */
  stop(): Promise<number | null>;
  kill(): void;
}

/** Prints a line prefixed with who says it, so the interleaved output of several processes reads well. */
export function say(who: string, line: string): void {
  console.log(`[${who}] ${line}`);
}

/** Every server started and not yet exited, so `guard` can stop them even when a start failed half way. */
const running = new Set<ServerProcess>();

/** Forks `file` with `env`; resolves once it reports `{ type: 'listening', port }` over IPC. */
export function startServer(file: string, name: string, env: Record<string, string>): Promise<ServerProcess> {
  const child = fork(file, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  relay(child, name);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const server: ServerProcess = {
    name,
    url: '',
    stop: async () => {
      if (child.connected) child.send('stop');
      return exited;
    },
    kill: () => void child.kill('SIGKILL'),
  };
  running.add(server);
  void exited.then(() => running.delete(server));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${name} exited with code ${code} before listening`)));
    child.on('message', (message: { type?: string; port?: number }) => {
      if (message?.type === 'listening') resolve(Object.assign(server, { url: `http://127.0.0.1:${message.port}` }));
    });
  });
}

/** Runs `file` to completion; rejects when it exits with a non-zero code. */
export async function runToEnd(file: string, name: string, env: Record<string, string>): Promise<void> {
  const child = fork(file, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  relay(child, name);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${name} exited with code ${code}`);
}

function relay(child: ChildProcess, name: string): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => say(name, line));
  }
}

/**
 * In a server process: calls `stop` when the parent says 'stop' or on SIGTERM/SIGINT, once.
 * `stop` should stop the cache first (it writes what is open and leaves the cluster), then close
 * the HTTP server and the database pool, so the process ends on its own.
 */
export function onStopRequest(stop: () => Promise<void>): void {
  let stopping: Promise<void> | undefined;
  const run = () => {
    stopping ??= stop().then(
      () => process.disconnect?.(),
      (err: unknown) => {
        console.error('stop failed:', err);
        process.exitCode = 1;
        process.disconnect?.();
      },
    );
  };
  process.on('message', (message) => message === 'stop' && run());
  // The parent is gone (it crashed or was killed): never outlive it.
  process.once('disconnect', run);
  process.once('SIGTERM', run);
  process.once('SIGINT', run);
}

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value !== undefined) return { value, ms: Date.now() - started };
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Ends the example: stops every server it started, sets the exit code, and guards against a hang
 * with a hard deadline (an example must never block a CI run).
 */
export function guard(deadlineMs: number): { finish(ok: boolean): Promise<void> } {
  const timer = setTimeout(() => {
    console.error(`example did not finish within ${deadlineMs} ms; killing its servers`);
    for (const s of running) s.kill();
    process.exit(1);
  }, deadlineMs);
  timer.unref();
  return {
    async finish(ok) {
      const codes = await Promise.all([...running].map((s) => s.stop()));
      clearTimeout(timer);
      const clean = codes.every((c) => c === 0);
      if (!clean) console.error(`a server exited uncleanly: ${codes.join(', ')}`);
      process.exitCode = ok && clean ? 0 : 1;
    },
  };
}
