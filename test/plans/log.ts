/**
 * A production-sized instruction log, built in one statement per database (seconds, not the
 * minutes 300,000 writes through the store would take), then analyzed: every real table gets
 * statistics from autovacuum (or an operator's ANALYZE), and the plans the gate checks are the
 * ones the database picks with them (issue 21).
 */
import type { Knex } from 'knex';
import type { DialectName } from '../support/databases.js';
import type { TableNames } from '../../src/store/tables.js';

export interface LogShape {
  /** Rows in the log. */
  rows: number;
  /** The oldest rows, stamped `oldDays` ago: what a prune finds past retention. */
  oldRows: number;
  oldDays: number;
  /** The cluster the rows belong to. @default 'default' */
  cluster?: string;
}

/** A row's JSON, about the size of one refresh of a few ids. */
const ROW_JSON = '{"v":1,"instructions":[{"refresher":"plans","kind":"refresh","ids":[1,2,3,4,5,6,7,8]}]}';

/**
 * Fills `tables.instruction` with `shape.rows` rows in id order, the oldest `oldRows` of them
 * `oldDays` old and the rest spread over the last hour, then analyzes the table.
 *
 * PostgreSQL: rows carry about one txid per three rows, as the writes of a real log do, not the
 * one txid of a single INSERT (whose statistics would show one distinct value and mislead the
 * planner the other way). A txid is only a number to the cursor (`pg_visible_in_snapshot` is
 * arithmetic on the snapshot), but it must lie below every current snapshot's xmin, so the
 * counter is first moved past them: one subtransaction per xid, about 1.4 s per 100,000 here.
 */
export async function buildLog(knex: Knex, dialect: DialectName, tables: TableNames, shape: LogShape): Promise<void> {
  const cluster = shape.cluster ?? 'default';
  const { rows, oldRows, oldDays } = shape;
  if (dialect === 'postgres') {
    const xids = Math.ceil(rows / 3);
    await burnXids(knex, xids);
    await knex.raw(
      `insert into ?? (json_instruction, originated, instruction_count, cluster, utc_stamp, txid)
       select ?, 'plans', 1, ?,
         case when g <= ? then now() - make_interval(days => ?) else now() - make_interval(secs => (? - g) * 3600.0 / ?) end,
         (b.base + (g - 1) / 3)::text::xid8
       from generate_series(1, ?) g,
         (select pg_snapshot_xmin(pg_current_snapshot())::text::bigint - ? - 1 as base) b`,
      [tables.instruction, ROW_JSON, cluster, oldRows, oldDays, rows, rows, rows, xids],
    );
    await knex.raw('analyze ??', [tables.instruction]);
  } else if (dialect === 'mysql') {
    await withoutSeqTrigger(knex, tables, async () => {
      // MariaDB's sequence engine (seq_1_to_N) numbers the rows; each gets the next seq by hand,
      // as the trigger would, and the counter row moves past them.
      await knex.raw(
        `insert into ?? (json_instruction, originated, instruction_count, cluster, utc_stamp, seq)
         select ?, 'plans', 1, ?,
           if(s.seq <= ?, current_timestamp(3) - interval ? day,
             current_timestamp(3) - interval round((? - s.seq) * 3600000 / ?) * 1000 microsecond),
           c.value + s.seq
         from seq_1_to_${Math.trunc(rows)} s, (select value from ?? where id = 1) c`,
        [tables.instruction, ROW_JSON, cluster, oldRows, oldDays, rows, rows, tables.sequence],
      );
      await knex.raw('update ?? set value = value + ? where id = 1', [tables.sequence, rows]);
    });
    await knex.raw('analyze table ??', [tables.instruction]);
  } else {
    await knex.raw(
      `with recursive g(n) as (select 1 union all select n + 1 from g where n < ?)
       insert into ?? (json_instruction, originated, instruction_count, cluster, utc_stamp)
       select ?, 'plans', 1, ?,
         strftime('%Y-%m-%dT%H:%M:%fZ', 'now',
           case when n <= ? then '-' || ? || ' days' else '-' || ((? - n) * 3600.0 / ?) || ' seconds' end)
       from g`,
      [rows, tables.instruction, ROW_JSON, cluster, oldRows, oldDays, rows, rows],
    );
    await knex.raw('analyze');
  }
}

/**
 * Runs `work` with the MySQL seq trigger dropped, then creates it again from its own definition:
 * through the trigger each row also updates the counter row, and 300,000 rows took a minute here.
 */
async function withoutSeqTrigger(knex: Knex, tables: TableNames, work: () => Promise<void>): Promise<void> {
  const trigger = `${tables.instruction}_seq_assign`;
  const [shown] = (await knex.raw('show create trigger ??', [trigger])) as [Array<Record<string, string>>];
  const definition = shown[0]?.['SQL Original Statement'];
  if (!definition) throw new Error(`no definition for trigger ${trigger}`);
  await knex.raw('drop trigger ??', [trigger]);
  try {
    await work();
  } finally {
    await knex.raw(definition);
  }
}

/** Moves PostgreSQL's xid counter `count` ahead: each subtransaction that writes takes one. */
async function burnXids(knex: Knex, count: number): Promise<void> {
  await knex.transaction(async (trx) => {
    await trx.raw('create temporary table distcache_plans_burn (x int) on commit drop');
    await trx.raw(
      `do $$ begin
         for i in 1..${Math.trunc(count)} loop
           begin insert into distcache_plans_burn values (1); exception when others then null; end;
         end loop;
       end $$`,
    );
  });
}
