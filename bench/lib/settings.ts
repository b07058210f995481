import type { Db } from './db.js';

export interface Settings {
  quick: boolean;
  /** The databases that answered; a scenario skips the others. */
  dbs: ReadonlySet<Db>;
  log(message: string): void;
}

/** `full` in a full run, `quick` in a quick one. */
export function pick<T>(s: Settings, full: T, quick: T): T {
  return s.quick ? quick : full;
}
