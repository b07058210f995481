import type { Db } from './db.js';

export interface Settings {
  quick: boolean;
  /** The databases that answered; a scenario skips the others. */
  dbs: ReadonlySet<Db>;
  log(message: string): void;
  /** Whether figure `id` is asked for (`--only`); a scenario that makes several skips the others. */
  wants(id: number): boolean;
}

/** `full` in a full run, `quick` in a quick one. */
export function pick<T>(s: Settings, full: T, quick: T): T {
  return s.quick ? quick : full;
}
