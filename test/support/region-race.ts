import { fork, type ChildProcess } from 'node:child_process';
import type { DialectName } from './databases.js';

export interface RaceChildSettings {
  dialect: DialectName;
  sqliteFile?: string;
  prefix: string;
  identity: string;
  mode: 'region' | 'read-through';
  rows: number;
  readers: number;
  writer: boolean;
  loadDelayMs: number;
  /** A pause after each write: the writers' pace, so every key stays cached some of the time. */
  writePauseMs: number;
}

export type RaceChildMessage =
  | { type: 'ready' }
  | { type: 'quiet' }
  | {
      type: 'result';
      stale: number;
      entries: number;
      reads: number;
      writes: number;
      failedWrites: number;
      lastError: string;
      loads: number;
      discarded: number;
    };
export type RaceParentMessage = { type: 'go'; durationMs: number } | { type: 'check' };
export type RaceResult = Extract<RaceChildMessage, { type: 'result' }> & { identity: string };

/** Waits for one message of a type from a child; rejects if it exits first. */
function next<T extends RaceChildMessage['type']>(child: ChildProcess, type: T): Promise<Extract<RaceChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: RaceChildMessage) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m as Extract<RaceChildMessage, { type: T }>);
    };
    const onExit = (code: number | null) => reject(new Error(`race child exited with ${code} before sending '${type}'`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Runs the servers: all start, all go at once for durationMs, all go quiet, then each counts its stale entries. */
export async function runRace(servers: RaceChildSettings[], durationMs: number): Promise<RaceResult[]> {
  const script = new URL('./region-race-child.js', import.meta.url);
  const children = servers.map((s) => fork(script, [JSON.stringify(s)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  try {
    await Promise.all(children.map((c) => next(c, 'ready')));
    const quiet = children.map((c) => next(c, 'quiet'));
    for (const c of children) c.send({ type: 'go', durationMs } satisfies RaceParentMessage);
    await Promise.all(quiet);
    const results = children.map((c) => next(c, 'result'));
    for (const c of children) c.send({ type: 'check' } satisfies RaceParentMessage);
    return (await Promise.all(results)).map((r, i) => ({ ...r, identity: servers[i]!.identity }));
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill();
  }
}
