import type { Knex } from 'knex';
import { errors } from '../src/errors.js';
import type { MigrationContext } from '../src/migrations/context.js';
import type { TableNames } from '../src/store/tables.js';

/**
 * The instruction log, the per-server cursors and the recorded failures. Never edit once landed.
 *
 * Frozen: every piece of dialect-specific schema this migration makes is written out here, not
 * asked of src/dialects/, so a later change to a dialect can never make a fresh install differ
 * from one upgraded years ago (test/migrations-frozen.test.ts compares the two on every database).
 */
export async function up(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  const name = dialect.name;
  await knex.schema.createTable(tables.instruction, (table) => {
    table.bigIncrements('id').primary();
    timestamp(name, table, 'utc_stamp').notNullable().defaultTo(now(name, knex));
    // longtext on MySQL: a row may carry payloads of several megabytes.
    table.text('json_instruction', 'longtext').notNullable();
    table.string('originated', 255).notNullable();
    table.string('origin_instance', 64).nullable();
    table.integer('instruction_count').notNullable().defaultTo(1);
    table.string('cluster', 64).notNullable().defaultTo('default');
    table.index(['cluster', 'id'], `${tables.instruction}_cluster_id`);
    table.index(['utc_stamp'], `${tables.instruction}_stamp`);
  });
  // What makes the cursor exact. SQLite: the AUTOINCREMENT row id already is (one writer at a time).
  if (name === 'postgres') await addPostgresTxid(knex, tables);
  if (name === 'mysql') await addMysqlSequence(knex, tables);

  await knex.schema.createTable(tables.cursor, (table) => {
    table.string('cluster', 64).notNullable();
    table.string('server_identity', 128).notNullable();
    table.text('position').notNullable();
    table.boolean('cold_boot_requested').notNullable().defaultTo(false);
    timestamp(name, table, 'last_synced').nullable();
    table.primary(['cluster', 'server_identity']);
  });

  await knex.schema.createTable(tables.failure, (table) => {
    table.bigIncrements('id').primary();
    table.string('cluster', 64).notNullable();
    table.string('server_identity', 128).notNullable();
    table.bigInteger('instruction_id').nullable();
    table.string('refresher', 256).nullable();
    table.string('kind', 32).nullable();
    table.string('action', 32).notNullable();
    table.text('error').notNullable();
    table.text('detail').nullable();
    timestamp(name, table, 'created_at').notNullable().defaultTo(now(name, knex));
    table.index(['cluster', 'server_identity'], `${tables.failure}_server`);
  });
}

export async function down(knex: Knex, { tables, dialect }: MigrationContext): Promise<void> {
  await knex.schema.dropTableIfExists(tables.failure);
  await knex.schema.dropTableIfExists(tables.cursor);
  // PostgreSQL's txid column and index go with the table.
  if (dialect.name === 'mysql') await dropMysqlSequence(knex, tables);
  await knex.schema.dropTableIfExists(tables.instruction);
}

type DialectName = MigrationContext['dialect']['name'];

/** A column holding the database clock's UTC time, as this migration made it. */
function timestamp(name: DialectName, table: Knex.CreateTableBuilder, column: string): Knex.ColumnBuilder {
  if (name === 'postgres') return table.timestamp(column, { useTz: true, precision: 6 });
  // MySQL: TIMESTAMP is stored as UTC whatever the session's zone (src/dialects/mysql/dialect.ts).
  if (name === 'mysql') return table.timestamp(column, { precision: 3 });
  // SQLite: ISO-8601 text in UTC, which compares correctly as text.
  return table.string(column, 30);
}

/** "Now, by the database clock" as a column default, as this migration made it. */
function now(name: DialectName, knex: Knex): Knex.Raw {
  if (name === 'postgres') return knex.raw('now()');
  // The precision must match the column's, or MySQL rejects the default.
  if (name === 'mysql') return knex.raw('CURRENT_TIMESTAMP(3)');
  return knex.raw(`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`);
}

/**
 * PostgreSQL: each row records the id of the transaction that wrote it (PgQ's method). A column
 * default, not a trigger or application code, so plain SQL writers that name only the payload
 * columns get it too.
 */
async function addPostgresTxid(knex: Knex, tables: TableNames): Promise<void> {
  await knex.raw('alter table ?? add column txid xid8 not null default pg_current_xact_id()', [tables.instruction]);
  // (cluster, txid, id): a page is one index range in exactly the order it is applied, even when
  // one transaction wrote many rows, so the planner never has to sort the rest of a backlog.
  await knex.raw('create index ?? on ?? (cluster, txid, id)', [`${tables.instruction}_txid`, tables.instruction]);
}

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
export async function addMysqlSequence(knex: Knex, t: TableNames): Promise<void> {
  // Aliased: MySQL 8 labels information_schema columns in upper case, MariaDB as written.
  const [engines] = (await knex.raw(
    'select engine as e from information_schema.tables where table_schema = database() and table_name = ?',
    [t.instruction],
  )) as [Array<{ e?: string }>];
  const engine = String(engines[0]?.e ?? '');
  if (engine.toLowerCase() !== 'innodb') {
    // The scheme needs row locks held until commit; MyISAM/Aria have neither.
    throw new errors.MigrationFailedError(
      `${t.instruction} uses storage engine '${engine}'; distcache needs InnoDB (set default_storage_engine=InnoDB)`,
    );
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

export async function dropMysqlSequence(knex: Knex, t: TableNames): Promise<void> {
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
    hint =
      'binary logging is on: run the migration as a user with SUPER (MySQL: SUPER or SET_USER_ID), or set the global ' +
      'log_bin_trust_function_creators=1 (RDS/Aurora/Cloud SQL: in the parameter group) and retry';
  } else if (e?.errno === 1142 || e?.errno === 1227) {
    hint = 'the migrating user needs the TRIGGER privilege on this schema';
  } else {
    return err instanceof Error ? err : new Error(String(err));
  }
  // The instruction table exists now but has no trigger; without it rows would never be read.
  return new errors.MigrationFailedError(
    `creating trigger ${triggerName(t)} on ${t.instruction} failed (${e.message ?? ''}); ${hint}. The table ${t.instruction} ` +
      `was created without it: drop ${t.instruction} and ${t.sequence} before retrying`,
    { cause: err },
  );
}
