import * as m001 from '../../migrations/001_instruction_log.js';
import type { DistcacheMigration } from './context.js';

/**
 * Every migration, in order. Imported statically rather than read from a folder, so the package
 * works bundled and the order never depends on a file listing.
 */
export const MIGRATIONS: readonly DistcacheMigration[] = [{ name: '001_instruction_log', ...m001 }];
