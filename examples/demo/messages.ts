/** What the demo's server processes tell the coordinator over IPC. */
export type ServerMessage =
  | { type: 'ready'; identity: string }
  | { type: 'committed'; identity: string; id: number; at: number }
  | { type: 'applied'; identity: string; ids: number[]; at: number; source: 'local' | 'remote' }
  | { type: 'done'; identity: string; written: number };

export type CoordinatorMessage = { type: 'write'; changes: number } | { type: 'stop' };

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on one machine. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
