import * as m001 from '../../migrations/001_instruction_log.js';
import * as m002 from '../../migrations/002_cluster.js';
import * as m003 from '../../migrations/003_server_refreshers.js';
import * as m004 from '../../migrations/004_database_identity.js';
import * as m005 from '../../migrations/005_sql_functions.js';
import * as m006 from '../../migrations/006_server_regions.js';
import * as m007 from '../../migrations/007_bounded_rows.js';
import * as m009 from '../../migrations/009_replica_tick.js';
import * as m010 from '../../migrations/010_dashboard_state.js';
import * as m012 from '../../migrations/012_sqlite_write_rules.js';
import * as m013 from '../../migrations/013_mysql_replica_tick.js';
import type { DistcacheMigration } from './context.js';

/**
 * Every migration, in order. Imported statically rather than read from a folder, so the package
 * works bundled and the order never depends on a file listing.
 */
export const MIGRATIONS: readonly DistcacheMigration[] = [
  { name: '001_instruction_log', ...m001 },
  { name: '002_cluster', ...m002 },
  { name: '003_server_refreshers', ...m003 },
  { name: '004_database_identity', ...m004 },
  { name: '005_sql_functions', ...m005 },
  { name: '006_server_regions', ...m006 },
  { name: '007_bounded_rows', ...m007 },
  { name: '009_replica_tick', ...m009 },
  { name: '010_dashboard_state', ...m010 },
  { name: '012_sqlite_write_rules', ...m012 },
  { name: '013_mysql_replica_tick', ...m013 },
];
