import type { Knex } from 'knex';
import { errors } from '../../errors.js';
import type { Dialect } from '../dialect.js';
import type { TableNames } from '../../store/tables.js';
import { MysqlStore } from './store.js';
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
 */
export const mysqlDialect: Dialect = {
  name: 'mysql',
  clients: ['mysql2', 'mysql'],
  createStore: (config) => new MysqlStore(config),
  // The precision must match the column's, or MySQL rejects the default.
  nowDefault: (knex) => knex.raw('CURRENT_TIMESTAMP(3)'),
  // Every distcache TIMESTAMP column is either nullable (emitted as explicit NULL) or has an
  // explicit default, so explicit_defaults_for_timestamp=OFF never adds
  // DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP behind our back.
  timestamp: (table, name) => table.timestamp(name, { precision: 3 }),
  createCursorSupport,
  dropCursorSupport,
  // MySQL commits implicitly before and after every DDL statement.
  transactionalDdl: false,
  withMigrationLock,
};

const triggerName = (t: TableNames) => `${t.instruction}_seq_assign`;

/**
 * The exact cursor. InnoDB hands out AUTO_INCREMENT ids at insert time, interleaved across open
 * transactions, so a later-committing row can carry a smaller id and `id > last` would skip it.
 * Instead a BEFORE INSERT trigger bumps a counter row and copies it into `seq`. The UPDATE takes
 * an exclusive lock on the counter row that InnoDB holds until the writing transaction commits
 * or rolls back, so the next writer gets its number only after this one has finished: seq values
 * become visible in increasing order, and a rollback undoes its increment (no gaps). A reader
 * that sees seq N committed therefore knows every seq < N is already committed.
 *
 * One global counter row, not one per cluster: `head()` is max(seq) over the whole table, which
 * is only a safe position for every cluster if all clusters share one commit order; per-cluster
 * counters would also need an upsert in the trigger. The cost is that writers of all clusters
 * sharing this table commit instruction rows one at a time (cache-invalidation writes are rare
 * and short). Writers should insert the instruction row last in their transaction, both to hold
 * the lock briefly and so that no lock is taken after it (which could deadlock).
 *
 * The trigger runs for plain SQL writers too (`INSERT INTO cache_instruction (...) VALUES ...`),
 * and always overwrites `seq`, so nobody can pick their own position. It reads the new value with
 * a plain SELECT rather than LAST_INSERT_ID(expr): a transaction always sees its own update, and
 * it leaves the session's LAST_INSERT_ID (the row id the caller gets back) alone.
 */
async function createCursorSupport(knex: Knex, t: TableNames): Promise<void> {
  // Aliased: MySQL 8 labels information_schema columns in upper case, MariaDB as written.
  const [engines] = (await knex.raw('select engine as e from information_schema.tables where table_schema = database() and table_name = ?', [
    t.instruction,
  ])) as [Array<{ e?: string }>];
  const engine = String(engines[0]?.e ?? '');
  if (engine.toLowerCase() !== 'innodb') {
    // The scheme needs row locks held until commit; MyISAM/Aria have neither.
    throw new errors.MigrationFailedError(`${t.instruction} uses storage engine '${engine}'; distcache needs InnoDB (set default_storage_engine=InnoDB)`);
  }
  // Nullable so it can be added to a table that already has rows; the trigger fills every new row.
  await knex.schema.alterTable(t.instruction, (table) => {
    table.bigInteger('seq').nullable();
    table.unique(['seq'], { indexName: `${t.instruction}_seq` });
    table.index(['cluster', 'seq'], `${t.instruction}_cluster_seq`);
  });
  await knex.schema.createTable(t.sequence, (table) => {
    table.engine('InnoDB');
    table.tinyint('id').primary();
    table.bigInteger('value').notNullable();
  });
  // Rows already present are committed, so any order is a commit order for them.
  await knex.raw('update ?? set seq = id where seq is null', [t.instruction]);
  await knex.raw('insert into ?? (id, value) select 1, coalesce(max(id), 0) from ??', [t.sequence, t.instruction]);
  try {
    await knex.raw(
      `create trigger ?? before insert on ?? for each row
       begin
         update ?? set value = value + 1 where id = 1;
         set new.seq = (select value from ?? where id = 1);
         if new.seq is null then
           signal sqlstate '45000' set message_text = 'distcache: the sequence row is missing, so this row could never be read';
         end if;
       end`,
      [triggerName(t), t.instruction, t.sequence, t.sequence],
    );
  } catch (err) {
    throw triggerError(err, t);
  }
}

async function dropCursorSupport(knex: Knex, t: TableNames): Promise<void> {
  await knex.raw('drop trigger if exists ??', [triggerName(t)]);
  await knex.schema.dropTableIfExists(t.sequence);
  if (await knex.schema.hasColumn(t.instruction, 'seq')) {
    await knex.schema.alterTable(t.instruction, (table) => {
      table.dropIndex([], `${t.instruction}_cluster_seq`);
      table.dropUnique([], `${t.instruction}_seq`);
      table.dropColumn('seq');
    });
  }
}

/** CREATE TRIGGER fails in ways a user can fix; say how. */
function triggerError(err: unknown, t: TableNames): Error {
  const e = err as { errno?: number; message?: string };
  let hint = '';
  // ER_BINLOG_CREATE_ROUTINE_NEED_SUPER: binary logging is on and the user lacks SUPER.
  if (e?.errno === 1419) {
    hint = 'binary logging is on: run the migration as a user with SUPER (MySQL: SUPER or SET_USER_ID), or set the global log_bin_trust_function_creators=1 (RDS/Aurora/Cloud SQL: in the parameter group) and retry';
  } else if (e?.errno === 1142 || e?.errno === 1227) {
    hint = 'the migrating user needs the TRIGGER privilege on this schema';
  } else {
    return err instanceof Error ? err : new Error(String(err));
  }
  // The instruction table exists now but has no trigger; without it rows would never be read.
  return new errors.MigrationFailedError(
    `creating trigger ${triggerName(t)} on ${t.instruction} failed (${e.message ?? ''}); ${hint}. The table ${t.instruction} was created without it: drop ${t.instruction} and ${t.sequence} before retrying`,
    { cause: err },
  );
}
