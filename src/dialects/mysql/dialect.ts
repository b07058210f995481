import type { Dialect } from '../types.js';
import { mysqlTrigger } from './trigger.js';
import { mysqlOperatorConnection } from './operator-connection.js';
import { MysqlStore } from './store.js';
import { MysqlReplicatedStore } from './replicated-store.js';
import { withMigrationLock } from './migration-lock.js';

/**
 * MySQL 8 / MariaDB 10.11.
 *
 * Time: columns are TIMESTAMP(3). The server stores a TIMESTAMP as UTC and converts it to and
 * from the session time zone, so what is stored never depends on who wrote it, and every value
 * the store reads (utc_stamp, CURRENT_TIMESTAMP(3) in `now()`, knex.fn.now() in the shared
 * cursor code) passes through the same session-zone conversion. The Dates are exact UTC when the
 * driver's `timezone` matches the session's time zone (e.g. mysql2 `timezone: 'Z'` with a server
 * or session time_zone of UTC/'+00:00'); if they differ, every Date is off by the same amount and
 * age comparisons (all done in SQL, or Date minus `now()`) stay correct. DATETIME would not be
 * converted, so a CURRENT_TIMESTAMP written by a session in another zone would be silently wrong.
 * Limit: TIMESTAMP ends at 2038-01-19 on MySQL 8 and MariaDB before 11.5.
 *
 * The exact cursor is a `seq` column that a trigger fills from a counter row locked until commit;
 * migrations/001_instruction_log.ts creates both and says why.
 */
export const mysqlDialect: Dialect = {
  name: 'mysql',
  clients: ['mysql2', 'mysql'],
  createStore: (config) => new MysqlStore(config),
  // Page reads on replicas that keep the primary's commit order; see replicated-store.ts.
  createReplicatedStore: (config, replicas) => new MysqlReplicatedStore(config, replicas),
  // The precision must match the column's, or MySQL rejects the default.
  nowDefault: (knex) => knex.raw('CURRENT_TIMESTAMP(3)'),
  // Every distcache TIMESTAMP column is either nullable (emitted as explicit NULL) or has an
  // explicit default, so explicit_defaults_for_timestamp=OFF never adds
  // DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP behind our back.
  timestamp: (table, name) => table.timestamp(name, { precision: 3 }),
  // MySQL commits implicitly before and after every DDL statement.
  triggerSql: mysqlTrigger,
  operatorConnection: mysqlOperatorConnection,
  listenerConnection: false,
  functionOwner: 'definer',
  transactionalDdl: false,
  withMigrationLock,
};
